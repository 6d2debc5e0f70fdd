package remote_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/dynamotest"
	"github.com/tiersession/tiersession/remote/remotetest"
)

// Tests on AWS's DynamoDB Local, for what dynalite cannot show: the item
// returned with a failed condition (ReturnValuesOnConditionCheckFailure),
// the TTL API (dynamo_local_table_test.go) and global secondary indexes.

func TestConformanceDynamoLocal(t *testing.T) {
	remotetest.Run(t, dynamoHarness("dynamodblocal", dynamotest.LocalEndpoint, false))
	remotetest.Run(t, dynamoHarness("dynamodblocal/owners", dynamotest.LocalEndpoint, true))
}

// TestDynamoLocalConditionItem checks that a failed condition check is
// settled from the item DynamoDB returns with it (ALL_OLD): one request,
// no read-back. Only an absent key, for which DynamoDB returns no item,
// costs the consistent read.
func TestDynamoLocalConditionItem(t *testing.T) {
	ctx := context.Background()
	f := newFixtureAt(t, dynamotest.LocalEndpoint(t), remote.DynamoOptions{})
	wantConflict := func(current uint64) func(*testing.T, remote.Record, error) {
		return func(t *testing.T, _ remote.Record, err error) {
			t.Helper()
			var ce *remote.ConflictError
			if !errors.As(err, &ce) || ce.Current != current {
				t.Fatalf("err = %v; want a conflict at current version %d", err, current)
			}
		}
	}
	tests := []struct {
		name string
		// call runs the operation under test on rec, a stored record at
		// version 2.
		call         func(rec remote.Record) (remote.Record, error)
		check        func(t *testing.T, got remote.Record, err error)
		wantCalls    []call
		wantRequests int64
	}{
		{
			name: "Create over a live record",
			call: func(rec remote.Record) (remote.Record, error) {
				return f.store.Create(ctx, remote.Record{Key: rec.Key, Data: []byte("x"), ExpiresAt: farFuture()})
			},
			check:        wantConflict(2),
			wantCalls:    []call{{op: "PutItem"}},
			wantRequests: 1,
		},
		{
			name: "stale Put",
			call: func(rec remote.Record) (remote.Record, error) {
				return f.store.Put(ctx, rec, 1)
			},
			check:        wantConflict(2),
			wantCalls:    []call{{op: "UpdateItem"}},
			wantRequests: 1,
		},
		{
			name: "stale Delete",
			call: func(rec remote.Record) (remote.Record, error) {
				return remote.Record{}, f.store.Delete(ctx, rec.Key, 1)
			},
			check:        wantConflict(2),
			wantCalls:    []call{{op: "DeleteItem"}},
			wantRequests: 1,
		},
		{
			name: "Touch to an earlier expiry",
			call: func(rec remote.Record) (remote.Record, error) {
				return f.store.Touch(ctx, rec.Key, time.Now().Add(time.Minute))
			},
			check: func(t *testing.T, got remote.Record, err error) {
				if err != nil || got.Version != 2 || string(got.Data) != "v2" || got.ExpiresAt.Before(time.Now().Add(30*time.Minute)) {
					t.Fatalf("Touch = %+v, %v; want the stored record, unchanged", got, err)
				}
			},
			wantCalls:    []call{{op: "UpdateItem"}},
			wantRequests: 1,
		},
		{
			name: "Put retried after a lost response",
			call: func(rec remote.Record) (remote.Record, error) {
				f.faults.LoseNextResponse()
				rec.Data = []byte("v3")
				return f.store.Put(ctx, rec, 2)
			},
			check: func(t *testing.T, got remote.Record, err error) {
				if err != nil || got.Version != 3 {
					t.Fatalf("Put = %+v, %v; want version 3: the retry found its own write", got, err)
				}
			},
			// One call, two attempts: the lost one and the retry, whose
			// condition fails against the first one's item.
			wantCalls:    []call{{op: "UpdateItem"}},
			wantRequests: 2,
		},
		{
			name: "Put on an absent key",
			call: func(remote.Record) (remote.Record, error) {
				return f.store.Put(ctx, remote.Record{Key: remotetest.Key(t), Data: []byte("x"), ExpiresAt: farFuture()}, 1)
			},
			check: func(t *testing.T, _ remote.Record, err error) {
				if !errors.Is(err, remote.ErrNotFound) {
					t.Fatalf("err = %v; want ErrNotFound", err)
				}
			},
			// DynamoDB returns no item for an absent key: read back.
			wantCalls:    []call{{op: "UpdateItem"}, {op: "GetItem", consistent: true}},
			wantRequests: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.create(t, "v1")
			rec.Data = []byte("v2")
			rec, err := f.store.Put(ctx, rec, 1)
			if err != nil {
				t.Fatal(err)
			}
			n, before := f.calls.len(), f.faults.Requests()
			got, err := tt.call(rec)
			tt.check(t, got, err)
			if calls := f.calls.since(n); !slices.Equal(calls, tt.wantCalls) {
				t.Errorf("calls %+v; want %+v", calls, tt.wantCalls)
			}
			if n := f.faults.Requests() - before; n != tt.wantRequests {
				t.Errorf("%d requests; want %d", n, tt.wantRequests)
			}
		})
	}
}

// TestDynamoLocalGSI checks that the engine serves a sparse global
// secondary index, as an index of session owners will need: only items
// carrying the index key appear, a query finds them by owner, and a
// strongly consistent read of the index is refused, as DynamoDB refuses
// it.
func TestDynamoLocalGSI(t *testing.T) {
	ctx := context.Background()
	client := dynamotest.NewClient(t, dynamotest.LocalEndpoint(t))
	name := localTable(t, client)
	const index = "owner-index"
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName: aws.String(name),
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String("owner"), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(index),
			KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String("owner"), KeyType: types.KeyTypeHash}},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}},
		BillingMode: types.BillingModePayPerRequest,
	})
	if err != nil {
		t.Fatalf("CreateTable with a GSI: %v", err)
	}
	if err := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = 20*time.Millisecond, time.Second
	}).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, time.Minute); err != nil {
		t.Fatal(err)
	}
	items := map[string]string{"s1": "alice", "s2": "bob", "s3": "alice", "s4": ""} // s4 has no owner
	for pk, owner := range items {
		item := map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}}
		if owner != "" {
			item["owner"] = &types.AttributeValueMemberS{Value: owner}
		}
		if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(name), Item: item}); err != nil {
			t.Fatal(err)
		}
	}

	query := func(owner string, consistent bool) ([]string, error) {
		out, err := client.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(name),
			IndexName:                 aws.String(index),
			KeyConditionExpression:    aws.String("#o = :o"),
			ExpressionAttributeNames:  map[string]string{"#o": "owner"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":o": &types.AttributeValueMemberS{Value: owner}},
			ConsistentRead:            aws.Bool(consistent),
		})
		if err != nil {
			return nil, err
		}
		var pks []string
		for _, item := range out.Items {
			pks = append(pks, item["pk"].(*types.AttributeValueMemberS).Value)
		}
		slices.Sort(pks)
		return pks, nil
	}
	for _, tt := range []struct {
		owner string
		want  []string
	}{{"alice", []string{"s1", "s3"}}, {"bob", []string{"s2"}}, {"carol", nil}} {
		got, err := query(tt.owner, false)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("query %s = %v, %v; want %v", tt.owner, got, err, tt.want)
		}
	}
	scan, err := client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(name), IndexName: aws.String(index)})
	if err != nil || scan.Count != 3 {
		t.Errorf("scan of the index: %d items, %v; want 3 (the item without owner stays out)", scan.Count, err)
	}
	if _, err := query("alice", true); errorCode(err) != "ValidationException" {
		t.Errorf("consistent query of a GSI: err = %v; want ValidationException", err)
	}
}

// localTable returns the name of a table of client's server (the shared
// DynamoDB Local, or dynalite) that does not exist yet and is deleted (if
// created) when t ends.
func localTable(t testing.TB, client *dynamodb.Client) string {
	t.Helper()
	name := dynamotest.TableName(t)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dynamotest.DeleteTable(ctx, client, name); err != nil {
			t.Error(err)
		}
	})
	return name
}

// errorCode is the API error code of err, or "".
func errorCode(err error) string {
	var apiErr interface{ ErrorCode() string }
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}
