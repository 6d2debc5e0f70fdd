package remote

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// How Dynamo implements Owners (see DynamoOptions.OwnerIndex):
//
//	Generation  GetItem (consistent) of the generation item
//	Revoke      UpdateItem  SET gen = if_not_exists(gen, 0) + 1, wid = :wid
//	                        IF attribute_not_exists(wid) OR wid <> :wid
//	List        Query of the owner index (eventually consistent: a global
//	            secondary index), then BatchGetItem (consistent) of the
//	            items it names, of which List keeps the live ones that
//	            still name the owner
//	Create      GetItem of the generation, PutItem of the record with
//	            it, GetItem of the generation again (see Owners)
//
// Why Create re-reads rather than writes in a transaction with a
// ConditionCheck on the generation item: the record carries the generation
// read before it was written, so a Revoke between that read and the write
// revokes it whatever Create does afterwards; the re-read only tells the
// caller. A transaction would say the same at twice the write units (every
// item in TransactWriteItems is written twice, the ConditionCheck is
// billed as a write), would make Revoke's UpdateItem and concurrent
// Creates of one owner fail with TransactionConflict while one is in
// flight, and is not served by dynalite. The re-read costs one strongly
// consistent read unit.

// errNoOwners is returned by every owner operation of a Dynamo without an
// owner index.
var errNoOwners = fmt.Errorf("%w: owners are off (DynamoOptions.OwnerIndex is empty)", ErrInvalid)

// checkOwners validates owner for an Owners method.
func (d *Dynamo) checkOwners(owner string) error {
	if err := ValidOwner(owner); err != nil {
		return err
	}
	if d.ownerIndex == "" {
		return errNoOwners
	}
	return nil
}

// Generation implements Owners with a strongly consistent read.
func (d *Dynamo) Generation(ctx context.Context, owner string) (uint64, error) {
	if err := d.checkOwners(owner); err != nil {
		return 0, err
	}
	item, err := d.fetch(ctx, generationKey(owner), true)
	if err != nil {
		return 0, readError(ctx, "GetItem (owner generation)", err)
	}
	return decodeGeneration(item)
}

// Revoke implements Owners. The UpdateItem carries a write id: a retry
// whose earlier attempt landed fails its condition on that id, and the
// generation is then read from the item the failure returns (or read back).
func (d *Dynamo) Revoke(ctx context.Context, owner string) (uint64, error) {
	if err := d.checkOwners(owner); err != nil {
		return 0, err
	}
	id := newWriteID()
	in := &dynamodb.UpdateItemInput{
		TableName:                d.table,
		Key:                      keyOf(generationKey(owner)),
		UpdateExpression:         aws.String("SET #gen = if_not_exists(#gen, :zero) + :one, #wid = :wid"),
		ConditionExpression:      aws.String("attribute_not_exists(#wid) OR #wid <> :wid"),
		ExpressionAttributeNames: map[string]string{nameGen: attrGeneration, nameWID: attrWriteID},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":zero": versionValue(0),
			":one":  versionValue(1),
			":wid":  &types.AttributeValueMemberB{Value: id[:]},
		},
		ReturnValues:                        types.ReturnValueUpdatedNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	const op = "UpdateItem (owner generation)"
	log := new(attemptLog)
	out, err := d.client.UpdateItem(ctx, in, log.option)
	if err == nil {
		return decodeGeneration(out.Attributes)
	}
	var cond *types.ConditionalCheckFailedException
	if !errors.As(err, &cond) {
		return 0, writeError(ctx, op, err, log)
	}
	// An earlier attempt of this call raised the generation and its
	// response was lost. The generation is that one or, if others raised
	// it since, higher: either revokes what this call had to.
	item := cond.Item
	if len(item) == 0 {
		if item, err = d.fetch(ctx, generationKey(owner), true); err != nil {
			return 0, readBackError(ctx, op, err, log)
		}
	}
	return decodeGeneration(item)
}

// decodeGeneration reads the generation from a generation item, or from the
// attributes an update returned; 0 when absent.
func decodeGeneration(item map[string]types.AttributeValue) (uint64, error) {
	if _, ok := item[attrGeneration]; !ok {
		return 0, nil
	}
	text, err := numberAttr(item, attrGeneration)
	if err != nil {
		return 0, err
	}
	gen, err := strconv.ParseUint(text, 10, 64)
	if err != nil {
		return 0, corrupt(attrGeneration, "not a non-negative integer")
	}
	return gen, nil
}

// recheck ends an owned Create that wrote out (see Memory.recheck, which
// does the same).
func (d *Dynamo) recheck(ctx context.Context, out Record) error {
	gen, err := d.Generation(ctx, out.Owner)
	if err != nil || gen == out.Generation {
		return nil
	}
	_ = d.Delete(ctx, out.Key, out.Version)
	return fmt.Errorf("%w: the owner's generation went from %d to %d during the Create", ErrRevoked, out.Generation, gen)
}

// hook runs the test hook, if one is set (export_test.go).
func (d *Dynamo) hook(stage string) {
	if d.createHook != nil {
		d.createHook(stage)
	}
}

// batchGetMax is the most keys one BatchGetItem may ask for.
const batchGetMax = 100

// Bounds of List's retries of the keys BatchGetItem leaves unprocessed
// (throttling, a response over 16 MB).
const (
	unprocessedRetries  = 8
	unprocessedMinDelay = 20 * time.Millisecond
	unprocessedMaxDelay = time.Second
)

// List implements Owners.
func (d *Dynamo) List(ctx context.Context, owner string) ([]Record, error) {
	if err := d.checkOwners(owner); err != nil {
		return nil, err
	}
	now := d.now()
	keys, err := d.queryOwner(ctx, owner)
	if err != nil {
		return nil, err
	}
	var recs []Record
	for len(keys) > 0 {
		n := min(len(keys), batchGetMax)
		items, err := d.batchGet(ctx, keys[:n])
		if err != nil {
			return nil, err
		}
		keys = keys[n:]
		for _, item := range items {
			s, err := decodeItem(item)
			if err != nil {
				return nil, err
			}
			// The index lags the table: the record may have been
			// deleted, or deleted and created again without owner.
			if s.rec.Owner == owner && s.live(now) {
				recs = append(recs, s.rec)
			}
		}
	}
	sortOwned(recs)
	return recs, nil
}

// queryOwner returns the keys the owner index lists for owner, each once.
func (d *Dynamo) queryOwner(ctx context.Context, owner string) ([]string, error) {
	var keys []string
	seen := make(map[string]bool)
	in := &dynamodb.QueryInput{
		TableName:                 d.table,
		IndexName:                 aws.String(d.ownerIndex),
		KeyConditionExpression:    aws.String("#own = :own"),
		ExpressionAttributeNames:  map[string]string{nameOwn: attrOwner},
		ExpressionAttributeValues: map[string]types.AttributeValue{":own": &types.AttributeValueMemberS{Value: owner}},
	}
	for {
		out, err := d.client.Query(ctx, in)
		if err != nil {
			return nil, readError(ctx, "Query (owner index)", err)
		}
		for _, item := range out.Items {
			key, err := stringAttr(item, attrKey)
			if err != nil {
				return nil, err
			}
			if !seen[key] {
				seen[key] = true
				keys = append(keys, key)
			}
		}
		if len(out.LastEvaluatedKey) == 0 {
			return keys, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// batchGet reads the items stored under keys (at most batchGetMax), with
// strongly consistent reads, retrying the keys the server leaves
// unprocessed. Absent keys have no item.
func (d *Dynamo) batchGet(ctx context.Context, keys []string) ([]map[string]types.AttributeValue, error) {
	req := types.KeysAndAttributes{ConsistentRead: aws.Bool(true)}
	for _, k := range keys {
		req.Keys = append(req.Keys, keyOf(k))
	}
	pending := map[string]types.KeysAndAttributes{*d.table: req}
	var items []map[string]types.AttributeValue
	delay := unprocessedMinDelay
	for attempt := 0; ; attempt++ {
		out, err := d.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: pending})
		if err != nil {
			return nil, readError(ctx, "BatchGetItem", err)
		}
		items = append(items, out.Responses[*d.table]...)
		left, ok := out.UnprocessedKeys[*d.table]
		if !ok || len(left.Keys) == 0 {
			return items, nil
		}
		if attempt >= unprocessedRetries {
			return nil, fmt.Errorf("%w: dynamodb BatchGetItem: %d keys still unprocessed after %d attempts", ErrUnavailable, len(left.Keys), attempt+1)
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("remote: dynamodb BatchGetItem: %w", ctx.Err())
		}
		delay = min(2*delay, unprocessedMaxDelay)
		pending = map[string]types.KeysAndAttributes{*d.table: left}
	}
}

// tooLarge reports whether err is DynamoDB refusing a write because the
// item would exceed its size limit.
func tooLarge(err error) bool {
	if errorCode(err) != "ValidationException" {
		return false
	}
	var apiErr interface{ ErrorMessage() string }
	return errors.As(err, &apiErr) && strings.Contains(strings.ToLower(apiErr.ErrorMessage()), "item size")
}
