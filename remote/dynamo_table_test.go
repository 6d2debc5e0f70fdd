package remote_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/remote/dynamotest"
)

// freshTable returns a client and the name of a table that does not exist
// yet and is deleted (if created) when t ends.
func freshTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	client := dynamotest.NewClient(t, dynamotest.Endpoint(t))
	name := dynamotest.TableName(t)
	t.Cleanup(func() {
		_, err := client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		var notFound *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &notFound) {
			t.Errorf("deleting table %s: %v", name, err)
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
		}
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		tab := out.Table
		if tab.TableStatus != types.TableStatusActive {
			t.Errorf("status %s; want ACTIVE", tab.TableStatus)
		}
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
