package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// How Dynamo maps Store onto DynamoDB: one item per record (layout in
// dynamo_item.go), every write guarded by a condition expression:
//
//	Create  PutItem     attribute_not_exists(pk) OR exp <= :now
//	Put     UpdateItem  ver = :expected AND exp > :now
//	                    (SET data, ver, exp, wid: owner attributes stay)
//	Delete  DeleteItem  attribute_not_exists(pk) OR ver = :expected OR exp <= :now
//	                    (no condition when expected is 0)
//	Touch   UpdateItem  attribute_exists(pk) AND exp > :now AND exp < :new
//
// Put and Touch return the item as written (ALL_NEW), owner attributes
// included, so the tier above can check an owned record's generation
// without reading it again. An owned Create (dynamo_owners.go) reads the
// owner's generation item before and after its PutItem.
//
// Every conditional write asks for ReturnValuesOnConditionCheckFailure =
// ALL_OLD, so a failed check usually carries the item it failed against.
// When it does not (the key is absent, or the server ignores the parameter,
// as dynalite does) Dynamo reads the item back with a consistent read. The item then
// decides the outcome: the caller's own earlier attempt (same write id, see
// settle), not found, or a conflict with the current version.

// DynamoOptions configures NewDynamo. The zero value of every field except
// Table means its default.
type DynamoOptions struct {
	// Table is the name of the table. Required, no default. EnsureTable
	// creates it if needed.
	Table string
	// ConsistentRead makes Get use strongly consistent reads. Default
	// false: eventually consistent reads, at half the read cost, which may
	// return a version that is shortly out of date. Writes are checked
	// against the latest version either way, and the read-back that
	// settles a failed condition check is always consistent.
	ConsistentRead bool
	// Now returns the current time. It decides expiry on reads and in
	// write conditions. Default time.Now.
	Now func() time.Time
	// OwnerIndex turns owners on (see Owners) and names the global
	// secondary index on the owner attribute that List queries, such as
	// DefaultOwnerIndex. EnsureTable creates it: sparse (only owned
	// records carry the attribute) and KEYS_ONLY, so records without an
	// owner cost nothing more to write, and an owned one costs one more
	// index write. Default "": no owners; Create refuses a record with an
	// Owner, and the Owners methods fail, with ErrInvalid.
	OwnerIndex string
	// KMSKeyID, when set, makes EnsureTable create the table encrypted at
	// rest with this customer managed KMS key (key ID, key ARN, alias name
	// or alias ARN): CreateTable carries SSESpecification {Enabled, SSEType
	// KMS, KMSMasterKeyId}. It applies only to a table EnsureTable creates:
	// an existing table's encryption is neither checked nor changed
	// (DescribeTable names the key by ARN, which cannot be matched against
	// an alias without KMS; change it with UpdateTable). Default "":
	// nothing sent, DynamoDB's default encryption (an AWS owned key).
	// The emulators accept the request and ignore it: dynalite and
	// DynamoDB Local create the table without error and report no
	// encryption.
	KMSKeyID string
	// PointInTimeRecovery makes EnsureTable turn on point-in-time
	// recovery (continuous backups) once the table is ACTIVE, unless
	// DescribeContinuousBackups shows it already on. Right after a table
	// is created DynamoDB refuses it for a while
	// (ContinuousBackupsUnavailableException); EnsureTable retries within
	// its 5-minute wait, then fails with ErrUnavailable. Default false:
	// nothing sent, and recovery enabled by other means stays on.
	// A server without the continuous backups API (dynalite and DynamoDB
	// Local both answer UnknownOperationException) fails EnsureTable
	// with ErrInvalid, after the table, the owner index and TTL were made
	// ready: the recovery was asked for and cannot be had there.
	PointInTimeRecovery bool
	// DeletionProtection makes EnsureTable protect the table against
	// DeleteTable: a table it creates is created protected
	// (DeletionProtectionEnabled), and an existing table whose
	// DescribeTable shows no protection gets it with UpdateTable. Default
	// false: nothing sent, and protection enabled by other means stays on
	// (turn it off with UpdateTable before deleting the table). DynamoDB
	// Local supports it; a server without it (dynalite refuses the
	// UpdateTable with ValidationException and never reports the
	// protection) fails EnsureTable with ErrInvalid, after the table, the
	// owner index and TTL were made ready.
	DeletionProtection bool
}

// DefaultOwnerIndex is a name for DynamoOptions.OwnerIndex.
const DefaultOwnerIndex = "tiersession-owner"

// Dynamo is the DynamoDB implementation of Store, on aws-sdk-go-v2. It is
// safe for concurrent use.
//
// Retries are the SDK client's: configure them on the client (the DynamoDB
// client's default is 4 attempts). Each logical write keeps one write id
// across those retries, so a retry that finds its own earlier attempt
// applied reports success.
type Dynamo struct {
	client     *dynamodb.Client
	table      *string
	consistent bool
	now        func() time.Time
	ownerIndex string             // "" without owners
	kmsKeyID   string             // "" for the default encryption
	pitr       bool               // enable point-in-time recovery
	protect    bool               // enable deletion protection
	ttl        atomic.Bool        // see TTLEnabled
	createHook func(stage string) // see export_test.go
}

var (
	_ Store            = (*Dynamo)(nil)
	_ ConsistentGetter = (*Dynamo)(nil)
	_ Owners           = (*Dynamo)(nil)
)

// NewDynamo returns a Store on the table opts.Table reached through client.
// It makes no request; call EnsureTable to create the table.
func NewDynamo(client *dynamodb.Client, opts DynamoOptions) (*Dynamo, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil DynamoDB client", ErrInvalid)
	}
	if opts.Table == "" {
		return nil, fmt.Errorf("%w: DynamoOptions.Table is empty", ErrInvalid)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Dynamo{
		client:     client,
		table:      aws.String(opts.Table),
		consistent: opts.ConsistentRead,
		now:        now,
		ownerIndex: opts.OwnerIndex,
		kmsKeyID:   opts.KMSKeyID,
		pitr:       opts.PointInTimeRecovery,
		protect:    opts.DeletionProtection,
	}, nil
}

// Get returns the live record stored under key. found is false, with a nil
// error, when the key is absent or its record expired.
func (d *Dynamo) Get(ctx context.Context, key string) (Record, bool, error) {
	return d.get(ctx, key, d.consistent)
}

// GetConsistent is Get with a strongly consistent read, whatever
// DynamoOptions.ConsistentRead says. It implements ConsistentGetter.
func (d *Dynamo) GetConsistent(ctx context.Context, key string) (Record, bool, error) {
	return d.get(ctx, key, true)
}

func (d *Dynamo) get(ctx context.Context, key string, consistent bool) (Record, bool, error) {
	if err := ValidKey(key); err != nil {
		return Record{}, false, err
	}
	now := d.now()
	item, err := d.fetch(ctx, key, consistent)
	if err != nil {
		return Record{}, false, readError(ctx, "GetItem", err)
	}
	if len(item) == 0 {
		return Record{}, false, nil
	}
	s, err := decodeItem(item)
	if err != nil || !s.live(now) {
		return Record{}, false, err
	}
	return s.rec, true, nil
}

// Create stores rec as version 1 (rec.Version is ignored) over an absent or
// expired record, and returns the stored record. An owned record (see
// Owners) costs two strongly consistent reads of the owner's generation
// item besides the PutItem.
func (d *Dynamo) Create(ctx context.Context, rec Record) (Record, error) {
	now := d.now()
	exp, err := checkWrite(rec, now, true)
	if err != nil {
		return Record{}, err
	}
	if rec.Owner == "" {
		return d.create(ctx, rec, exp, now, ownedAttrs{})
	}
	if d.ownerIndex == "" {
		return Record{}, errNoOwners
	}
	if err := ctx.Err(); err != nil {
		return Record{}, fmt.Errorf("%w: dynamodb PutItem not sent: %w", ErrUnavailable, err)
	}
	gen, err := d.Generation(ctx, rec.Owner)
	if err != nil {
		// The write was never sent.
		return Record{}, fmt.Errorf("%w: reading the owner's generation before the PutItem: %w", ErrUnavailable, err)
	}
	d.hook("read")
	out, err := d.create(ctx, rec, exp, now, ownedAttrs{owner: rec.Owner, meta: rec.Meta, created: now.Unix(), gen: gen})
	if err != nil {
		return Record{}, err
	}
	d.hook("written")
	return out, d.recheck(ctx, out)
}

// create is the PutItem of Create, with the owner attributes of an owned
// record.
func (d *Dynamo) create(ctx context.Context, rec Record, exp int64, now time.Time, owned ownedAttrs) (Record, error) {
	id := newWriteID()
	in := &dynamodb.PutItemInput{
		TableName:                           d.table,
		Item:                                encodeItem(rec.Key, rec.Data, 1, exp, id, owned),
		ConditionExpression:                 aws.String("attribute_not_exists(#pk) OR #exp <= :now"),
		ExpressionAttributeNames:            namesPKExp,
		ExpressionAttributeValues:           map[string]types.AttributeValue{":now": secondsValue(now.Unix())},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	stored := Record{Key: rec.Key, Data: bytes.Clone(rec.Data), Version: 1, ExpiresAt: expTime(exp)}
	owned.set(&stored)
	log := new(attemptLog)
	_, err := d.client.PutItem(ctx, in, log.option)
	if err == nil {
		return stored, nil
	}
	cur, found, err := d.conditionFailed(ctx, "PutItem", rec.Key, err, log)
	if err != nil {
		return Record{}, err
	}
	return settled(stored, cur, found, now, 0, id, log, "PutItem")
}

// settled turns a failed condition of a write of version expected+1, given
// the item it failed against, into the write's result: stored if it was
// the write's own earlier attempt, an error otherwise.
func settled(stored Record, cur storedItem, found bool, now time.Time, expected uint64, id writeID, log *attemptLog, op string) (Record, error) {
	live := found && cur.live(now)
	switch settle(found, live, cur.rec.Version, cur.wid, expected, id, log.ambiguous) {
	case outcomeOwnWrite:
		// An earlier attempt of this call landed and its response was
		// lost; the retry's condition then failed against it.
		return stored, nil
	case outcomeNotFound:
		return Record{}, ErrNotFound
	case outcomeUnknown:
		return Record{}, fmt.Errorf("%w: %s was retried after an ambiguous failure and the record has changed since", ErrUnknownOutcome, op)
	default:
		conflict := &ConflictError{Expected: expected}
		if live {
			conflict.Current = cur.rec.Version
		}
		return Record{}, conflict
	}
}

// Put stores rec as version expected+1 if the stored version is expected
// (rec.Version is ignored), and returns the stored record. expected 0 is
// invalid: no stored record has version 0 (use Create). The owner
// attributes of the stored record stay as they are.
func (d *Dynamo) Put(ctx context.Context, rec Record, expected uint64) (Record, error) {
	if expected == 0 {
		return Record{}, fmt.Errorf("%w: Put with expected version 0 (use Create)", ErrInvalid)
	}
	now := d.now()
	exp, err := checkWrite(rec, now, false)
	if err != nil {
		return Record{}, err
	}
	id := newWriteID()
	data := rec.Data
	if data == nil {
		data = []byte{} // see encodeItem
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                d.table,
		Key:                      keyOf(rec.Key),
		UpdateExpression:         aws.String("SET #data = :data, #ver = :next, #exp = :exp, #wid = :wid"),
		ConditionExpression:      aws.String("#ver = :expected AND #exp > :now"),
		ExpressionAttributeNames: namesPut,
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":data":     &types.AttributeValueMemberB{Value: data},
			":next":     versionValue(expected + 1),
			":exp":      secondsValue(exp),
			":wid":      &types.AttributeValueMemberB{Value: id[:]},
			":expected": versionValue(expected),
			":now":      secondsValue(now.Unix()),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	log := new(attemptLog)
	out, err := d.client.UpdateItem(ctx, in, log.option)
	if err == nil {
		s, err := decodeItem(out.Attributes)
		if err != nil {
			return Record{}, err
		}
		return s.rec, nil
	}
	if tooLarge(err) {
		return Record{}, fmt.Errorf("%w: dynamodb UpdateItem: the record's owner attributes and %d bytes of Data exceed %d: %s",
			ErrTooLarge, len(rec.Data), MaxItemSize, describe(err))
	}
	cur, found, err := d.conditionFailed(ctx, "UpdateItem", rec.Key, err, log)
	if err != nil {
		return Record{}, err
	}
	// Our own earlier attempt is the item the condition failed against.
	return settled(cur.rec, cur, found, now, expected, id, log, "UpdateItem")
}

// Delete removes key; if expected is not 0, only when the stored version
// equals it. Deleting an absent or expired record is not an error.
func (d *Dynamo) Delete(ctx context.Context, key string, expected uint64) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	now := d.now()
	in := &dynamodb.DeleteItemInput{TableName: d.table, Key: keyOf(key)}
	if expected != 0 {
		// Absent and expired records pass the condition too, so the
		// check fails only against a live record of another version
		// (DynamoDB then returns it) and a retry after a lost response
		// simply succeeds.
		in.ConditionExpression = aws.String("attribute_not_exists(#pk) OR #ver = :expected OR #exp <= :now")
		in.ExpressionAttributeNames = namesAll
		in.ExpressionAttributeValues = map[string]types.AttributeValue{
			":expected": versionValue(expected),
			":now":      secondsValue(now.Unix()),
		}
		in.ReturnValuesOnConditionCheckFailure = types.ReturnValuesOnConditionCheckFailureAllOld
	}
	log := new(attemptLog)
	_, err := d.client.DeleteItem(ctx, in, log.option)
	if err == nil {
		return nil
	}
	// Without a condition, conditionFailed only maps the error.
	cur, found, err := d.conditionFailed(ctx, "DeleteItem", key, err, log)
	if err != nil {
		return err
	}
	if !found || !cur.live(now) {
		// Gone or expired by the time of the read-back: absent.
		return nil
	}
	return &ConflictError{Expected: expected, Current: cur.rec.Version}
}

// Touch extends the record's expiry to expiresAt and returns the stored
// record. A Touch to a time at or before the stored expiry changes nothing
// and returns the stored record.
func (d *Dynamo) Touch(ctx context.Context, key string, expiresAt time.Time) (Record, error) {
	if err := ValidKey(key); err != nil {
		return Record{}, err
	}
	now := d.now()
	exp, err := checkExpiry(expiresAt, now)
	if err != nil {
		return Record{}, err
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                d.table,
		Key:                      keyOf(key),
		UpdateExpression:         aws.String("SET #exp = :new"),
		ConditionExpression:      aws.String("attribute_exists(#pk) AND #exp > :now AND #exp < :new"),
		ExpressionAttributeNames: namesPKExp,
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":new": secondsValue(exp),
			":now": secondsValue(now.Unix()),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	log := new(attemptLog)
	out, err := d.client.UpdateItem(ctx, in, log.option)
	if err == nil {
		s, err := decodeItem(out.Attributes)
		if err != nil {
			return Record{}, err
		}
		return s.rec, nil
	}
	cur, found, err := d.conditionFailed(ctx, "UpdateItem", key, err, log)
	if err != nil {
		return Record{}, err
	}
	if !found || !cur.live(now) || cur.exp < exp {
		// cur.exp < exp: the check saw no live record and one appeared
		// before the read-back; as of the check, the key was absent.
		return Record{}, ErrNotFound
	}
	// The stored expiry is already at or after exp (possibly because an
	// earlier attempt of this call set it): nothing to shorten.
	return cur.rec, nil
}

// fetch reads the item stored under key; a nil map when absent. The error
// is the SDK's, for the caller to map.
func (d *Dynamo) fetch(ctx context.Context, key string, consistent bool) (map[string]types.AttributeValue, error) {
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      d.table,
		Key:            keyOf(key),
		ConsistentRead: aws.Bool(consistent),
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// conditionFailed handles the error of a write to key. If it is a failed
// condition check, it returns the item the check failed against (found is
// false when the key is absent); any other error comes back mapped.
func (d *Dynamo) conditionFailed(ctx context.Context, op, key string, err error, log *attemptLog) (storedItem, bool, error) {
	var cond *types.ConditionalCheckFailedException
	if !errors.As(err, &cond) {
		return storedItem{}, false, writeError(ctx, op, err, log)
	}
	item := cond.Item
	if len(item) == 0 {
		// Either the key is absent (DynamoDB returns no item then) or the
		// server ignored ReturnValuesOnConditionCheckFailure. Read back.
		item, err = d.fetch(ctx, key, true)
		if err != nil {
			return storedItem{}, false, readBackError(ctx, op, err, log)
		}
		if len(item) == 0 {
			return storedItem{}, false, nil
		}
	}
	s, err := decodeItem(item)
	if err != nil {
		return storedItem{}, false, err
	}
	return s, true, nil
}
