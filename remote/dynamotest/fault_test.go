package dynamotest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestFaultTransport drives raw SDK calls, one attempt each, through a
// FaultTransport to the shared server and checks each fault's effect on
// the response and on the table.
func TestFaultTransport(t *testing.T) {
	ctx := context.Background()
	endpoint := Endpoint(t)
	admin := NewClient(t, endpoint)
	table := NewTable(t, admin)
	client, ft := NewFaultClient(t, endpoint, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })

	key := func(k string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: k}}
	}
	put := func(k string) error {
		_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: key(k)})
		return err
	}
	stored := func(t *testing.T, k string) bool {
		t.Helper()
		out, err := admin.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(k), ConsistentRead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Item) > 0
	}

	tests := []struct {
		fault      Fault
		wantCode   string // "" for success
		wantStored bool
	}{
		{0, "", true},
		{LoseResponse, "InternalServerError", true},
		{ServerError, "InternalServerError", false},
		{Throttle, "ThrottlingException", false},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			k := TableName(t)
			if tt.fault != 0 {
				ft.Inject(tt.fault)
			}
			// Reads pass through untouched and leave the fault queued.
			before := ft.Requests()
			if _, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(k)}); err != nil {
				t.Fatalf("GetItem with a fault queued: %v", err)
			}
			wantPending := 0
			if tt.fault != 0 {
				wantPending = 1
			}
			if p := ft.Pending(); p != wantPending {
				t.Fatalf("Pending after a read = %d; want %d", p, wantPending)
			}

			err := put(k)
			var code string
			var apiErr interface{ ErrorCode() string }
			if errors.As(err, &apiErr) {
				code = apiErr.ErrorCode()
			} else if err != nil {
				t.Fatalf("PutItem: %v; want an API error or success", err)
			}
			if code != tt.wantCode {
				t.Fatalf("PutItem error code %q (%v); want %q", code, err, tt.wantCode)
			}
			if got := stored(t, k); got != tt.wantStored {
				t.Fatalf("item stored = %v; want %v", got, tt.wantStored)
			}
			if n := ft.Requests() - before; n != 2 {
				t.Fatalf("Requests grew by %d for one read and one write; want 2", n)
			}
			if ft.Pending() != 0 {
				t.Fatal("the fault was not consumed by the write")
			}
		})
	}
	if s := Fault(99).String(); !strings.Contains(s, "99") {
		t.Errorf("Fault(99).String() = %q", s)
	}
}
