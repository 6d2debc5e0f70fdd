package remote_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/dynamotest"
	"github.com/tiersession/tiersession/remote/remotetest"
)

// The owner index on DynamoDB Local, the engine closest to DynamoDB's
// global secondary indexes: EnsureTable creating it with the table, adding
// it to a table made without it (dynalite cannot: its UpdateTable does not
// create indexes), and refusing an index of that name on another key.

// ownerIndexOf returns the description of the owner index of table name.
func ownerIndexOf(t *testing.T, client *dynamodb.Client, name string) *types.GlobalSecondaryIndexDescription {
	t.Helper()
	out, err := client.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	for i, idx := range out.Table.GlobalSecondaryIndexes {
		if aws.ToString(idx.IndexName) == remote.DefaultOwnerIndex {
			return &out.Table.GlobalSecondaryIndexes[i]
		}
	}
	return nil
}

func wantOwnerIndex(t *testing.T, client *dynamodb.Client, name string) {
	t.Helper()
	idx := ownerIndexOf(t, client, name)
	if idx == nil {
		t.Fatalf("table %s has no index %s", name, remote.DefaultOwnerIndex)
	}
	if idx.IndexStatus != types.IndexStatusActive || idx.Projection == nil || idx.Projection.ProjectionType != types.ProjectionTypeKeysOnly ||
		len(idx.KeySchema) != 1 || aws.ToString(idx.KeySchema[0].AttributeName) != "own" {
		t.Fatalf("owner index = %+v; want ACTIVE, KEYS_ONLY, hash key own", idx)
	}
}

func TestDynamoLocalEnsureOwnerIndex(t *testing.T) {
	ctx := context.Background()
	opts := func(name string) remote.DynamoOptions {
		return remote.DynamoOptions{Table: name, OwnerIndex: remote.DefaultOwnerIndex}
	}

	t.Run("with a new table, then idempotent", func(t *testing.T) {
		calls := new(callLog)
		client := dynamotest.NewClient(t, dynamotest.LocalEndpoint(t), calls.option)
		name := localTable(t, client)
		if err := newDynamo(t, client, opts(name)).EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		wantOwnerIndex(t, client, name)
		n := calls.len()
		if err := newDynamo(t, client, opts(name)).EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		var ops []string
		for _, c := range calls.since(n) {
			ops = append(ops, c.op)
		}
		if got := strings.Join(ops, " "); got != "DescribeTable DescribeTimeToLive" {
			t.Errorf("EnsureTable on a ready table sent %s; want DescribeTable DescribeTimeToLive", got)
		}
	})

	t.Run("added to a table made without it", func(t *testing.T) {
		client := dynamotest.NewClient(t, dynamotest.LocalEndpoint(t))
		name := dynamotest.NewTable(t, client) // no owner index
		plain := newDynamo(t, client, remote.DynamoOptions{Table: name})
		old, err := plain.Create(ctx, remote.Record{Key: remotetest.Key(t), Data: []byte("x"), ExpiresAt: farFuture()})
		if err != nil {
			t.Fatal(err)
		}
		d := newDynamo(t, client, opts(name))
		if err := d.EnsureTable(ctx); err != nil {
			t.Fatal(err)
		}
		wantOwnerIndex(t, client, name)
		rec, err := d.Create(ctx, remote.Record{Key: remotetest.Key(t), Data: []byte("y"), ExpiresAt: farFuture(), Owner: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.List(ctx, "alice")
		if err != nil || len(got) != 1 || got[0].Key != rec.Key {
			t.Fatalf("List = %+v, %v; want the owned record only", got, err)
		}
		if got, found, err := d.Get(ctx, old.Key); err != nil || !found || got.Owner != "" {
			t.Fatalf("the record made before the index: %+v, %v", got, err)
		}
	})

	t.Run("an index of that name on another key", func(t *testing.T) {
		client := dynamotest.NewClient(t, dynamotest.LocalEndpoint(t))
		name := localTable(t, client)
		_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName: aws.String(name),
			AttributeDefinitions: []types.AttributeDefinition{
				{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
				{AttributeName: aws.String("user"), AttributeType: types.ScalarAttributeTypeS},
			},
			KeySchema: []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
				IndexName:  aws.String(remote.DefaultOwnerIndex),
				KeySchema:  []types.KeySchemaElement{{AttributeName: aws.String("user"), KeyType: types.KeyTypeHash}},
				Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
			}},
			BillingMode: types.BillingModePayPerRequest,
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
			o.MinDelay, o.MaxDelay = 20*time.Millisecond, time.Second
		}).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, time.Minute); err != nil {
			t.Fatal(err)
		}
		err = newDynamo(t, client, opts(name)).EnsureTable(ctx)
		if !errors.Is(err, remote.ErrInvalid) {
			t.Fatalf("EnsureTable over an index on another key: err = %v; want ErrInvalid", err)
		}
		wantNoSDKError(t, err)
	})
}

// TestDynamoOwnedItem checks the attributes an owned record's item holds,
// and that the generation item stays out of the owner index.
func TestDynamoOwnedItem(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, remote.DynamoOptions{OwnerIndex: remote.DefaultOwnerIndex})
	rec, err := f.store.Create(ctx, remote.Record{
		Key: remotetest.Key(t), Data: []byte("x"), ExpiresAt: farFuture(),
		Owner: "alice", Meta: map[string]string{"device": "phone"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.Revoke(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	out, err := f.admin.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(f.table), Key: map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: rec.Key},
	}})
	if err != nil {
		t.Fatal(err)
	}
	own, _ := out.Item["own"].(*types.AttributeValueMemberS)
	gen, _ := out.Item["ogen"].(*types.AttributeValueMemberN)
	ct, _ := out.Item["ct"].(*types.AttributeValueMemberN)
	meta, _ := out.Item["meta"].(*types.AttributeValueMemberM)
	if own == nil || own.Value != "alice" || gen == nil || gen.Value != "0" || ct == nil || meta == nil || len(meta.Value) != 1 {
		t.Fatalf("owned item = %+v; want own, ogen 0, ct and meta", out.Item)
	}
	scan, err := f.admin.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(f.table), IndexName: aws.String(remote.DefaultOwnerIndex)})
	if err != nil || scan.Count != 1 {
		t.Fatalf("scan of the owner index: %d items, %v; want the session only, not the generation item", scan.Count, err)
	}
	full, err := f.admin.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(f.table)})
	if err != nil || full.Count != 2 {
		t.Fatalf("scan of the table: %d items, %v; want the session and the generation item", full.Count, err)
	}
	for _, item := range full.Items {
		if pk := item["pk"].(*types.AttributeValueMemberS).Value; strings.HasPrefix(pk, remote.ReservedPrefix) {
			if _, ok := item["exp"]; ok {
				t.Errorf("the generation item %+v has an expiry; TTL would sweep it", item)
			}
		}
	}
}
