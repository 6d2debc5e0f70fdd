package remote_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/remotetest"
)

// TestDynamoCorruptItems stores items that do not decode, bypassing the
// store, and checks that every call that reads them reports ErrCorrupt
// without echoing the payload.
func TestDynamoCorruptItems(t *testing.T) {
	exp := secondsAttr(time.Now().Add(time.Hour))
	valid := map[string]types.AttributeValue{
		"ver":  &types.AttributeValueMemberN{Value: "1"},
		"exp":  exp,
		"data": &types.AttributeValueMemberB{Value: []byte("SECRET-PAYLOAD")},
		"wid":  &types.AttributeValueMemberB{Value: make([]byte, 16)},
	}
	with := func(name string, v types.AttributeValue) map[string]types.AttributeValue {
		item := maps.Clone(valid)
		if v == nil {
			delete(item, name)
		} else {
			item[name] = v
		}
		return item
	}
	tests := []struct {
		name string
		item map[string]types.AttributeValue
	}{
		{"ver missing", with("ver", nil)},
		{"ver as S", with("ver", &types.AttributeValueMemberS{Value: "1"})},
		{"ver zero", with("ver", &types.AttributeValueMemberN{Value: "0"})},
		{"ver fractional", with("ver", &types.AttributeValueMemberN{Value: "1.5"})},
		{"ver negative", with("ver", &types.AttributeValueMemberN{Value: "-1"})},
		{"exp missing", with("exp", nil)},
		{"exp as S", with("exp", &types.AttributeValueMemberS{Value: exp.Value})},
		{"data missing", with("data", nil)},
		{"data as S", with("data", &types.AttributeValueMemberS{Value: "SECRET-PAYLOAD"})},
		{"wid as N", with("wid", &types.AttributeValueMemberN{Value: "7"})},
	}
	f := newFixture(t, remote.DynamoOptions{})
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := remotetest.Key(t)
			item := maps.Clone(tt.item)
			item["pk"] = &types.AttributeValueMemberS{Value: key}
			f.putRaw(t, item)

			rec, found, getErr := f.store.Get(ctx, key)
			if found || rec.Data != nil {
				t.Errorf("Get returned found=%v, %+v; want nothing", found, rec)
			}
			_, createErr := f.store.Create(ctx, remote.Record{Key: key, Data: []byte("x"), ExpiresAt: farFuture()})
			_, touchErr := f.store.Touch(ctx, key, farFuture().Add(time.Hour))
			for name, err := range map[string]error{"Get": getErr, "Create": createErr, "Touch": touchErr} {
				if !errors.Is(err, remote.ErrCorrupt) {
					t.Errorf("%s: err = %v; want ErrCorrupt", name, err)
				} else if strings.Contains(err.Error(), "SECRET") {
					t.Errorf("%s: error %q echoes the payload", name, err)
				}
			}
		})
	}

	t.Run("write id as S is accepted", func(t *testing.T) {
		key := remotetest.Key(t)
		item := with("wid", &types.AttributeValueMemberS{Value: "written-by-another-tool"})
		item["pk"] = &types.AttributeValueMemberS{Value: key}
		f.putRaw(t, item)
		rec, found, err := f.store.Get(ctx, key)
		if err != nil || !found || rec.Version != 1 || string(rec.Data) != "SECRET-PAYLOAD" {
			t.Fatalf("Get = %+v, found %v, err %v; want version 1", rec, found, err)
		}
	})
}
