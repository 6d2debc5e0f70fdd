package remote_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/dynamotest"
)

// freshTable returns a client and the name of a table that does not exist
// yet and is deleted (if created) when t ends. The server creates and
// deletes tables asynchronously, as DynamoDB does.
func freshTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	client := dynamotest.NewClient(t, dynamotest.AsyncTablesEndpoint(t))
	name := dynamotest.TableName(t)
	t.Cleanup(func() {
		// The table may still be CREATING, which DeleteTable waits out.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dynamotest.DeleteTable(ctx, client, name); err != nil {
			t.Error(err)
		}
	})
	return client, name
}

func TestDynamoEnsureTable(t *testing.T) {
	ctx := context.Background()

	t.Run("creates, then is idempotent", func(t *testing.T) {
		client, name := freshTable(t)
		d := newDynamo(t, client, remote.DynamoOptions{Table: name})
		if d.TTLEnabled() {
			t.Fatal("TTLEnabled before EnsureTable; want false")
		}
		for i := range 3 {
			if err := d.EnsureTable(ctx); err != nil {
				t.Fatalf("EnsureTable call %d: %v", i+1, err)
			}
			// EnsureTable returns once the table is ready, not when
			// CreateTable answers (the table is CREATING then).
			if status := tableStatus(t, client, name); status != types.TableStatusActive {
				t.Fatalf("status %s after EnsureTable call %d; want ACTIVE", status, i+1)
			}
		}
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		tab := out.Table
		if len(tab.KeySchema) != 1 || aws.ToString(tab.KeySchema[0].AttributeName) != "pk" || tab.KeySchema[0].KeyType != types.KeyTypeHash {
			t.Errorf("key schema %+v; want pk HASH", tab.KeySchema)
		}
		if len(tab.AttributeDefinitions) != 1 || tab.AttributeDefinitions[0].AttributeType != types.ScalarAttributeTypeS {
			t.Errorf("attribute definitions %+v; want pk S", tab.AttributeDefinitions)
		}
		if tab.BillingModeSummary == nil || tab.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
			t.Errorf("billing %+v; want PAY_PER_REQUEST", tab.BillingModeSummary)
		}

		// TTLEnabled must agree with what the server reports.
		ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		desc := ttl.TimeToLiveDescription
		serverTTL := desc != nil && aws.ToString(desc.AttributeName) == "exp" &&
			(desc.TimeToLiveStatus == types.TimeToLiveStatusEnabled || desc.TimeToLiveStatus == types.TimeToLiveStatusEnabling)
		if d.TTLEnabled() != serverTTL {
			t.Errorf("TTLEnabled = %v; the server reports %+v", d.TTLEnabled(), desc)
		}
		// dynalite has no UpdateTimeToLive: EnsureTable succeeded above
		// and says TTL is off.
		if dynaliteRuns() && d.TTLEnabled() {
			t.Error("TTLEnabled = true on dynalite, which lacks the TTL API")
		}

		// The table works.
		rec, err := d.Create(ctx, remote.Record{Key: "k", Data: []byte("v"), ExpiresAt: farFuture()})
		if err != nil || rec.Version != 1 {
			t.Fatalf("Create on the new table = %+v, %v", rec, err)
		}
	})

	t.Run("concurrent callers", func(t *testing.T) {
		client, name := freshTable(t)
		const callers = 4
		errs := make(chan error, callers)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, err := remote.NewDynamo(client, remote.DynamoOptions{Table: name})
				if err == nil {
					<-start
					err = d.EnsureTable(ctx)
				}
				errs <- err
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent EnsureTable: %v", err)
			}
		}
	})

	t.Run("table being deleted", func(t *testing.T) {
		client, name := freshTable(t)
		d := newDynamo(t, client, remote.DynamoOptions{Table: name})
		if err := d.EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Create(ctx, remote.Record{Key: "k", Data: []byte("old"), ExpiresAt: farFuture()}); err != nil {
			t.Fatal(err)
		}
		if _, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
		if status := tableStatus(t, client, name); status != types.TableStatusDeleting {
			t.Fatalf("status %s right after DeleteTable; want DELETING", status)
		}
		// EnsureTable waits for the deletion to finish, then creates
		// the table afresh; bounded so a wait that never ends fails.
		wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := d.EnsureTable(wctx); err != nil {
			t.Fatalf("EnsureTable on a table being deleted: %v", err)
		}
		if status := tableStatus(t, client, name); status != types.TableStatusActive {
			t.Fatalf("status %s after EnsureTable; want ACTIVE", status)
		}
		if _, found, err := d.Get(ctx, "k"); err != nil || found {
			t.Fatalf("Get from the recreated table: found %v, err %v; want an empty table", found, err)
		}
	})

	t.Run("existing table with another key", func(t *testing.T) {
		client, name := freshTable(t)
		_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:            aws.String(name),
			AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("id"), AttributeType: types.ScalarAttributeTypeS}},
			KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("id"), KeyType: types.KeyTypeHash}},
			BillingMode:          types.BillingModePayPerRequest,
		})
		if err != nil {
			t.Fatal(err)
		}
		err = newDynamo(t, client, remote.DynamoOptions{Table: name}).EnsureTable(ctx)
		if !errors.Is(err, remote.ErrInvalid) {
			t.Fatalf("EnsureTable on a table keyed by id: err = %v; want ErrInvalid", err)
		}
	})

	t.Run("canceled context", func(t *testing.T) {
		client, name := freshTable(t)
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		err := newDynamo(t, client, remote.DynamoOptions{Table: name}).EnsureTable(ctx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("EnsureTable with a canceled context: err = %v; want context.Canceled", err)
		}
		wantNoSDKError(t, err)
	})
}

// tableStatus returns the status of table name; "" when it does not exist.
func tableStatus(t *testing.T, client *dynamodb.Client, name string) types.TableStatus {
	t.Helper()
	out, err := client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		return ""
	}
	if err != nil {
		t.Fatalf("DescribeTable %s: %v", name, err)
	}
	return out.Table.TableStatus
}
