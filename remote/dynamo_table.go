package remote

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Bounds of EnsureTable's waits for a table to become ACTIVE or to be
// gone. DynamoDB takes seconds; emulators take milliseconds.
const (
	tableWaitMax      = 5 * time.Minute
	tableWaitMinDelay = 20 * time.Millisecond
	tableWaitMaxDelay = 5 * time.Second
)

// EnsureTable makes the table ready for use: it creates it if missing (hash
// key pk of type S, on-demand billing), waits until it is ACTIVE, and
// enables DynamoDB's TTL on the exp attribute so expired records are swept
// from storage. It is idempotent: calling it on a ready table, with TTL
// already enabled, only reads the table's description, and a concurrent
// creation by another process is waited for, not reported.
//
// DynamoDB creates and deletes tables asynchronously, and EnsureTable
// waits on the table's status with the SDK's waiters rather than assume
// the table is ready when CreateTable answers: a table being created is
// waited for until ACTIVE; a table being deleted is waited for until it is
// gone, then created afresh (empty).
//
// With DynamoOptions.OwnerIndex set, EnsureTable also makes the owner
// index: a global secondary index of that name with hash key own (S) and
// projection KEYS_ONLY, part of a table it creates, added to an existing
// table with UpdateTable otherwise; it returns once the index is ACTIVE.
// On DynamoDB an index added to a table with many items takes a while to
// backfill; should that outlast EnsureTable's wait (5 minutes), it fails
// with ErrUnavailable, and the next EnsureTable waits on. Meanwhile owned
// sessions are created and revoked as usual, only List (and so the
// deletion of the revoked records) fails.
//
// With DynamoOptions.KMSKeyID, PointInTimeRecovery or DeletionProtection
// set, EnsureTable also applies them (see DynamoOptions); a server that
// lacks what was asked for fails it with ErrInvalid once the rest is
// ready.
//
// A table whose key schema is not a single S hash key named pk, whose
// TTL is enabled on another attribute, or whose index named OwnerIndex
// does not have own (S) as its hash key, fails with ErrInvalid.
//
// Servers without the TTL API (dynalite answers UnknownOperationException)
// are not an error: EnsureTable returns nil and TTLEnabled reports false.
// Expired records then stay in the table until overwritten or deleted;
// reads treat them as absent all the same, so only storage is affected.
func (d *Dynamo) EnsureTable(ctx context.Context) error {
	desc, err := d.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: d.table})
	var notFound *types.ResourceNotFoundException
	switch {
	case errors.As(err, &notFound):
		if err := d.createTable(ctx); err != nil {
			return err
		}
	case err != nil:
		return readError(ctx, "DescribeTable", err)
	case desc.Table != nil && desc.Table.TableStatus == types.TableStatusDeleting:
		// Its key schema does not matter: the table is going away.
		if err := d.waitGone(ctx); err != nil {
			return err
		}
		if err := d.createTable(ctx); err != nil {
			return err
		}
	default:
		if err := checkKeySchema(*d.table, desc.Table); err != nil {
			return err
		}
		if desc.Table.TableStatus == types.TableStatusActive {
			return d.ready(ctx, desc.Table)
		}
	}
	waiter := dynamodb.NewTableExistsWaiter(d.client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = tableWaitMinDelay
		o.MaxDelay = tableWaitMaxDelay
	})
	out, err := waiter.WaitForOutput(ctx, &dynamodb.DescribeTableInput{TableName: d.table}, tableWaitMax)
	if err != nil {
		return readError(ctx, "DescribeTable (waiting for ACTIVE)", err)
	}
	return d.ready(ctx, out.Table)
}

// ready ends EnsureTable on an ACTIVE table described by desc: the owner
// index, TTL, then the protections asked for, last as a server may lack
// them.
func (d *Dynamo) ready(ctx context.Context, desc *types.TableDescription) error {
	if err := d.ensureOwnerIndex(ctx, desc); err != nil {
		return err
	}
	if err := d.ensureTTL(ctx); err != nil {
		return err
	}
	if err := d.ensureDeletionProtection(ctx, desc); err != nil {
		return err
	}
	return d.ensurePITR(ctx)
}

// waitGone waits until the table no longer exists.
func (d *Dynamo) waitGone(ctx context.Context) error {
	waiter := dynamodb.NewTableNotExistsWaiter(d.client, func(o *dynamodb.TableNotExistsWaiterOptions) {
		o.MinDelay = tableWaitMinDelay
		o.MaxDelay = tableWaitMaxDelay
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: d.table}, tableWaitMax); err != nil {
		return readError(ctx, "DescribeTable (waiting for the deletion to end)", err)
	}
	return nil
}

// TTLEnabled reports whether the last EnsureTable found or enabled
// DynamoDB's TTL on the exp attribute. It is false before EnsureTable ran
// and when the server lacks the TTL API (see EnsureTable).
func (d *Dynamo) TTLEnabled() bool { return d.ttl.Load() }

// createTable creates the table, with the owner index if owners are on;
// an existing one (created concurrently by someone else) is fine.
func (d *Dynamo) createTable(ctx context.Context) error {
	in := &dynamodb.CreateTableInput{
		TableName: d.table,
		AttributeDefinitions: []types.AttributeDefinition{{
			AttributeName: aws.String(attrKey),
			AttributeType: types.ScalarAttributeTypeS,
		}},
		KeySchema: []types.KeySchemaElement{{
			AttributeName: aws.String(attrKey),
			KeyType:       types.KeyTypeHash,
		}},
		BillingMode: types.BillingModePayPerRequest,
	}
	if d.kmsKeyID != "" {
		in.SSESpecification = &types.SSESpecification{
			Enabled:        aws.Bool(true),
			SSEType:        types.SSETypeKms,
			KMSMasterKeyId: aws.String(d.kmsKeyID),
		}
	}
	if d.protect {
		in.DeletionProtectionEnabled = aws.Bool(true)
	}
	if d.ownerIndex != "" {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ownerAttrDef())
		in.GlobalSecondaryIndexes = []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(d.ownerIndex),
			KeySchema:  ownerIndexKey(),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly},
		}}
	}
	_, err := d.client.CreateTable(ctx, in)
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return readError(ctx, "CreateTable", err)
	}
	return nil
}

// checkKeySchema verifies that an existing table can hold our items.
func checkKeySchema(table string, desc *types.TableDescription) error {
	if desc == nil {
		return fmt.Errorf("%w: dynamodb DescribeTable: no table description", ErrUnavailable)
	}
	ok := len(desc.KeySchema) == 1 &&
		aws.ToString(desc.KeySchema[0].AttributeName) == attrKey &&
		desc.KeySchema[0].KeyType == types.KeyTypeHash
	if ok {
		for _, a := range desc.AttributeDefinitions {
			if aws.ToString(a.AttributeName) == attrKey {
				ok = a.AttributeType == types.ScalarAttributeTypeS
			}
		}
	}
	if !ok {
		return fmt.Errorf("%w: table %q exists but its key is not a single S hash key named %q",
			ErrInvalid, table, attrKey)
	}
	return nil
}

// ensureTTL enables TTL on exp unless it already is, and records the
// result for TTLEnabled.
func (d *Dynamo) ensureTTL(ctx context.Context) error {
	enabled, err := d.describeTTL(ctx)
	if err != nil || enabled {
		return err
	}
	_, err = d.client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: d.table,
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attrExpires),
			Enabled:       aws.Bool(true),
		},
	})
	switch {
	case err == nil:
		d.ttl.Store(true)
		return nil
	case ttlUnsupported(err):
		d.ttl.Store(false)
		return nil
	case errorCode(err) == "ValidationException":
		// Most likely another process enabled TTL since we looked
		// ("TimeToLive is already enabled"). Look again.
		enabled, derr := d.describeTTL(ctx)
		if derr != nil || enabled {
			return derr
		}
	}
	return readError(ctx, "UpdateTimeToLive", err)
}

// describeTTL reports whether TTL is enabled (or being enabled) on exp and
// records it for TTLEnabled. A server without the TTL API counts as
// disabled; TTL on another attribute is an error.
func (d *Dynamo) describeTTL(ctx context.Context) (enabled bool, err error) {
	out, err := d.client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: d.table})
	if err != nil {
		if ttlUnsupported(err) {
			d.ttl.Store(false)
			return false, nil
		}
		return false, readError(ctx, "DescribeTimeToLive", err)
	}
	var status types.TimeToLiveStatus
	var attr string
	if desc := out.TimeToLiveDescription; desc != nil {
		status, attr = desc.TimeToLiveStatus, aws.ToString(desc.AttributeName)
	}
	switch status {
	case types.TimeToLiveStatusEnabled, types.TimeToLiveStatusEnabling:
		if attr != attrExpires {
			return false, fmt.Errorf("%w: table %q has TTL on attribute %q, want %q",
				ErrInvalid, *d.table, attr, attrExpires)
		}
		d.ttl.Store(true)
		return true, nil
	case types.TimeToLiveStatusDisabling:
		return false, fmt.Errorf("%w: table %q: TTL is being disabled; try again once it is DISABLED",
			ErrUnavailable, *d.table)
	default:
		d.ttl.Store(false)
		return false, nil
	}
}

// ttlUnsupported reports whether err says the server does not implement the
// TTL API at all.
func ttlUnsupported(err error) bool { return unknownOperation(err) }

// unknownOperation reports whether err says the server does not implement
// the operation at all.
func unknownOperation(err error) bool {
	switch errorCode(err) {
	case "UnknownOperationException", "UnsupportedOperationException", "NotImplemented":
		return true
	}
	return false
}

// ensureDeletionProtection turns deletion protection on, if asked for,
// unless desc (the ACTIVE table) shows it on already.
func (d *Dynamo) ensureDeletionProtection(ctx context.Context, desc *types.TableDescription) error {
	if !d.protect || desc != nil && aws.ToBool(desc.DeletionProtectionEnabled) {
		return nil
	}
	deadline := time.Now().Add(tableWaitMax)
	delay := tableWaitMinDelay
	for {
		_, err := d.client.UpdateTable(ctx, &dynamodb.UpdateTableInput{
			TableName:                 d.table,
			DeletionProtectionEnabled: aws.Bool(true),
		})
		var inUse *types.ResourceInUseException
		switch {
		case err == nil:
			// The table may be UPDATING for a moment.
			return d.waitActive(ctx, "enabling deletion protection")
		case errors.As(err, &inUse):
			// Someone else is updating the table (maybe enabling
			// the protection too): wait, then look again.
		case errorCode(err) == "ValidationException" || unknownOperation(err):
			// Perhaps someone else enabled it since we looked
			// ("nothing to update"); or the server does not know the
			// parameter (dynalite: "At least one of ... is required").
			on, derr := d.deletionProtected(ctx)
			if derr != nil || on {
				return derr
			}
			return fmt.Errorf("%w: table %q: DeletionProtection is set but the server does not support deletion protection: dynamodb UpdateTable: %s",
				ErrInvalid, *d.table, describe(err))
		default:
			return readError(ctx, "UpdateTable (enabling deletion protection)", err)
		}
		if err := d.waitActive(ctx, "enabling deletion protection"); err != nil {
			return err
		}
		if on, err := d.deletionProtected(ctx); err != nil || on {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: table %q: deletion protection not enabled after %v: dynamodb UpdateTable: %s",
				ErrUnavailable, *d.table, tableWaitMax, describe(err))
		}
		if err := sleep(ctx, delay, "enabling deletion protection"); err != nil {
			return err
		}
		delay = min(2*delay, tableWaitMaxDelay)
	}
}

// deletionProtected reports whether DescribeTable shows the table
// protected against deletion.
func (d *Dynamo) deletionProtected(ctx context.Context) (bool, error) {
	out, err := d.client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: d.table})
	if err != nil {
		return false, readError(ctx, "DescribeTable (checking deletion protection)", err)
	}
	return out.Table != nil && aws.ToBool(out.Table.DeletionProtectionEnabled), nil
}

// waitActive waits until the table is ACTIVE; doing says what for.
func (d *Dynamo) waitActive(ctx context.Context, doing string) error {
	waiter := dynamodb.NewTableExistsWaiter(d.client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = tableWaitMinDelay
		o.MaxDelay = tableWaitMaxDelay
	})
	if err := waiter.Wait(ctx, &dynamodb.DescribeTableInput{TableName: d.table}, tableWaitMax); err != nil {
		return readError(ctx, "DescribeTable (waiting for ACTIVE after "+doing+")", err)
	}
	return nil
}

// ensurePITR turns point-in-time recovery on, if asked for, unless it is
// on already. DynamoDB refuses it for a while after creating a table
// (ContinuousBackupsUnavailableException): that is waited out.
func (d *Dynamo) ensurePITR(ctx context.Context) error {
	if !d.pitr {
		return nil
	}
	deadline := time.Now().Add(tableWaitMax)
	delay := tableWaitMinDelay
	for {
		on, err := d.describePITR(ctx)
		if err != nil || on {
			return err
		}
		_, err = d.client.UpdateContinuousBackups(ctx, &dynamodb.UpdateContinuousBackupsInput{
			TableName: d.table,
			PointInTimeRecoverySpecification: &types.PointInTimeRecoverySpecification{
				PointInTimeRecoveryEnabled: aws.Bool(true),
			},
		})
		var notYet *types.ContinuousBackupsUnavailableException
		switch {
		case err == nil:
			return nil
		case unknownOperation(err):
			return pitrUnsupported(*d.table, "UpdateContinuousBackups", err)
		case !errors.As(err, &notYet):
			return readError(ctx, "UpdateContinuousBackups", err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: table %q: point-in-time recovery still unavailable after %v; call EnsureTable again to wait on: dynamodb UpdateContinuousBackups: %s",
				ErrUnavailable, *d.table, tableWaitMax, describe(err))
		}
		if err := sleep(ctx, delay, "enabling point-in-time recovery"); err != nil {
			return err
		}
		delay = min(2*delay, tableWaitMaxDelay)
	}
}

// describePITR reports whether point-in-time recovery is on.
func (d *Dynamo) describePITR(ctx context.Context) (bool, error) {
	out, err := d.client.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: d.table})
	switch {
	case err == nil:
	case unknownOperation(err):
		return false, pitrUnsupported(*d.table, "DescribeContinuousBackups", err)
	default:
		return false, readError(ctx, "DescribeContinuousBackups", err)
	}
	if cb := out.ContinuousBackupsDescription; cb != nil && cb.PointInTimeRecoveryDescription != nil {
		return cb.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus == types.PointInTimeRecoveryStatusEnabled, nil
	}
	return false, nil
}

// pitrUnsupported is the error for a server without the continuous backups
// API.
func pitrUnsupported(table, op string, err error) error {
	return fmt.Errorf("%w: table %q: PointInTimeRecovery is set but the server does not support point-in-time recovery: dynamodb %s: %s",
		ErrInvalid, table, op, describe(err))
}

// sleep waits for delay or until ctx ends; doing says what for.
func sleep(ctx context.Context, delay time.Duration, doing string) error {
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("remote: %s: %w", doing, ctx.Err())
	}
}
