package remote

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// This file is EnsureTable's part for owners: the owner index.

// ownerAttrDef declares the owner attribute, the index's hash key.
func ownerAttrDef() types.AttributeDefinition {
	return types.AttributeDefinition{AttributeName: aws.String(attrOwner), AttributeType: types.ScalarAttributeTypeS}
}

// ownerIndexKey is the owner index's key schema.
func ownerIndexKey() []types.KeySchemaElement {
	return []types.KeySchemaElement{{AttributeName: aws.String(attrOwner), KeyType: types.KeyTypeHash}}
}

// ensureOwnerIndex makes sure the table described by desc (ACTIVE) has the
// owner index, adding it if missing, and waits until it is ACTIVE.
func (d *Dynamo) ensureOwnerIndex(ctx context.Context, desc *types.TableDescription) error {
	if d.ownerIndex == "" {
		return nil
	}
	idx, err := d.ownerIndexOf(desc)
	if err != nil {
		return err
	}
	if idx == nil {
		if err := d.addOwnerIndex(ctx, desc); err != nil {
			return err
		}
	} else if idx.IndexStatus == types.IndexStatusActive {
		return nil
	}
	return d.waitOwnerIndex(ctx)
}

// ownerIndexOf returns the description of the owner index in desc, nil if
// the table has none, or an error if the index of that name has another
// key.
func (d *Dynamo) ownerIndexOf(desc *types.TableDescription) (*types.GlobalSecondaryIndexDescription, error) {
	if desc == nil {
		return nil, fmt.Errorf("%w: dynamodb DescribeTable: no table description", ErrUnavailable)
	}
	for i := range desc.GlobalSecondaryIndexes {
		idx := &desc.GlobalSecondaryIndexes[i]
		if aws.ToString(idx.IndexName) != d.ownerIndex {
			continue
		}
		ok := len(idx.KeySchema) == 1 &&
			aws.ToString(idx.KeySchema[0].AttributeName) == attrOwner &&
			idx.KeySchema[0].KeyType == types.KeyTypeHash
		for _, a := range desc.AttributeDefinitions {
			if aws.ToString(a.AttributeName) == attrOwner {
				ok = ok && a.AttributeType == types.ScalarAttributeTypeS
			}
		}
		if !ok {
			return nil, fmt.Errorf("%w: table %q has an index %q whose key is not a single S hash key named %q",
				ErrInvalid, *d.table, d.ownerIndex, attrOwner)
		}
		return idx, nil
	}
	return nil, nil
}

// addOwnerIndex adds the owner index to the table. One being added by
// someone else meanwhile is fine.
func (d *Dynamo) addOwnerIndex(ctx context.Context, desc *types.TableDescription) error {
	create := &types.CreateGlobalSecondaryIndexAction{
		IndexName:  aws.String(d.ownerIndex),
		KeySchema:  ownerIndexKey(),
		Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
	}
	if s := desc.BillingModeSummary; (s == nil || s.BillingMode != types.BillingModePayPerRequest) && desc.ProvisionedThroughput != nil {
		// A provisioned table needs the index's throughput; take the
		// table's write capacity (every owned write is an index write)
		// and a small read capacity (only List reads the index).
		create.ProvisionedThroughput = &types.ProvisionedThroughput{
			ReadCapacityUnits:  aws.Int64(1),
			WriteCapacityUnits: desc.ProvisionedThroughput.WriteCapacityUnits,
		}
	}
	_, err := d.client.UpdateTable(ctx, &dynamodb.UpdateTableInput{
		TableName:                   d.table,
		AttributeDefinitions:        []types.AttributeDefinition{ownerAttrDef()},
		GlobalSecondaryIndexUpdates: []types.GlobalSecondaryIndexUpdate{{Create: create}},
	})
	var inUse *types.ResourceInUseException
	switch {
	case err == nil, errors.As(err, &inUse):
		return nil
	case errorCode(err) == "ValidationException" && strings.Contains(strings.ToLower(err.Error()), "already exists"):
		return nil
	}
	return readError(ctx, "UpdateTable (adding the owner index)", err)
}

// waitOwnerIndex waits until the table and its owner index are ACTIVE.
func (d *Dynamo) waitOwnerIndex(ctx context.Context) error {
	deadline := time.Now().Add(tableWaitMax)
	delay := tableWaitMinDelay
	for {
		desc, err := d.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: d.table})
		if err != nil {
			return readError(ctx, "DescribeTable (waiting for the owner index)", err)
		}
		idx, err := d.ownerIndexOf(desc.Table)
		if err != nil {
			return err
		}
		if idx != nil && idx.IndexStatus == types.IndexStatusActive && desc.Table.TableStatus == types.TableStatusActive {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: table %q: the owner index %q is not ACTIVE after %v; call EnsureTable again to wait on",
				ErrUnavailable, *d.table, d.ownerIndex, tableWaitMax)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("remote: waiting for the owner index: %w", ctx.Err())
		}
		delay = min(2*delay, tableWaitMaxDelay)
	}
}
