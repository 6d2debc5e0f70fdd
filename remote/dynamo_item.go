package remote

import (
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// This file maps Records to DynamoDB items and back.
//
// The item layout (see DESIGN.md):
//
//	pk   S  storage key (hash key)
//	ver  N  version, 1 after Create, +1 per Put
//	exp  N  expiry in epoch seconds, the table's TTL attribute
//	data B  payload
//	wid  B  16 random bytes naming the logical write that produced ver
//
// and, on owned records only (see Owners), written by Create and left
// alone by Put and Touch:
//
//	own  S  owner id: the hash key of the owner index (sparse)
//	ogen N  the owner's generation when the record was created
//	ct   N  creation time in epoch seconds
//	meta M  Record.Meta, strings by name; absent when empty
//
// An owner's generation lives in an item of its own, under
// generationKey(owner), outside the owner index and without expiry:
//
//	pk   S  ReservedPrefix + "owner/" + owner id
//	gen  N  the generation
//	wid  B  write id of the Revoke that last raised it
//
// Decoding never trusts the item: a missing or mistyped attribute, or a
// number that does not parse, gives an error matching ErrCorrupt. Errors name
// the attribute and the problem, never its value, so no payload or key ends
// up in a log line.

// Placeholders used in condition and update expressions. Every attribute
// name goes through ExpressionAttributeNames: DATA is a DynamoDB reserved
// word and the others might become one.
const (
	namePK   = "#pk"
	nameVer  = "#ver"
	nameExp  = "#exp"
	nameData = "#data"
	nameWID  = "#wid"
	nameGen  = "#gen"
	nameOwn  = "#own"
)

// Attribute-name maps for each condition. DynamoDB rejects a name map that
// holds a placeholder its expressions do not use, hence one map per shape.
// They are shared and must not be modified; the SDK only reads them.
var (
	namesPKExp = map[string]string{namePK: attrKey, nameExp: attrExpires}
	namesAll   = map[string]string{namePK: attrKey, nameVer: attrVersion, nameExp: attrExpires}
	namesPut   = map[string]string{nameData: attrData, nameVer: attrVersion, nameExp: attrExpires, nameWID: attrWriteID}
)

// keyOf is the primary key of the item stored under key.
func keyOf(key string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrKey: &types.AttributeValueMemberS{Value: key}}
}

// versionValue encodes a version as a DynamoDB N value.
func versionValue(v uint64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatUint(v, 10)}
}

// secondsValue encodes epoch seconds as a DynamoDB N value.
func secondsValue(sec int64) *types.AttributeValueMemberN {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(sec, 10)}
}

// ownedAttrs are the owner attributes a Create writes; zero for a record
// without owner.
type ownedAttrs struct {
	owner   string
	meta    map[string]string
	created int64 // epoch seconds
	gen     uint64
}

// set copies the attributes into rec.
func (o ownedAttrs) set(rec *Record) {
	if o.owner == "" {
		return
	}
	rec.Owner, rec.Meta, rec.CreatedAt, rec.Generation = o.owner, cloneMeta(o.meta), expTime(o.created), o.gen
}

// encodeItem builds the item that stores data under key as version ver,
// expiring at epoch second exp, written by the write id, with the owner
// attributes of owned.
func encodeItem(key string, data []byte, ver uint64, exp int64, id writeID, owned ownedAttrs) map[string]types.AttributeValue {
	if data == nil {
		// A nil B value serialises as an absent value, which DynamoDB
		// rejects; an empty one is a valid empty binary.
		data = []byte{}
	}
	item := map[string]types.AttributeValue{
		attrKey:     &types.AttributeValueMemberS{Value: key},
		attrVersion: versionValue(ver),
		attrExpires: secondsValue(exp),
		attrData:    &types.AttributeValueMemberB{Value: data},
		attrWriteID: &types.AttributeValueMemberB{Value: id[:]},
	}
	if owned.owner != "" {
		item[attrOwner] = &types.AttributeValueMemberS{Value: owned.owner}
		item[attrOwnerGen] = versionValue(owned.gen)
		item[attrCreated] = secondsValue(owned.created)
		if len(owned.meta) > 0 {
			m := make(map[string]types.AttributeValue, len(owned.meta))
			for k, v := range owned.meta {
				m[k] = &types.AttributeValueMemberS{Value: v}
			}
			item[attrMeta] = &types.AttributeValueMemberM{Value: m}
		}
	}
	return item
}

// storedItem is a decoded item: the record plus the write id that produced
// its version.
type storedItem struct {
	rec Record
	exp int64  // rec.ExpiresAt in epoch seconds
	wid []byte // nil when the item carries no write id
}

// live reports whether the item is live at now.
func (s storedItem) live(now time.Time) bool { return isLive(s.exp, now) }

// decodeItem decodes an item read from the table. The returned record owns
// its Data (the SDK allocates a fresh slice per response).
func decodeItem(item map[string]types.AttributeValue) (storedItem, error) {
	var s storedItem
	key, err := stringAttr(item, attrKey)
	if err != nil {
		return s, err
	}
	verText, err := numberAttr(item, attrVersion)
	if err != nil {
		return s, err
	}
	ver, err := strconv.ParseUint(verText, 10, 64)
	if err != nil || ver == 0 {
		return s, corrupt(attrVersion, "not a positive integer")
	}
	expText, err := numberAttr(item, attrExpires)
	if err != nil {
		return s, err
	}
	exp, err := strconv.ParseInt(expText, 10, 64)
	if err != nil {
		return s, corrupt(attrExpires, "not an integer")
	}
	data, ok := item[attrData].(*types.AttributeValueMemberB)
	if !ok {
		return s, missingOrMistyped(item, attrData, "B")
	}
	// The write id is not part of the Record; items written by other
	// tools may lack it (DESIGN.md allows B or S). Only a value of another
	// type is corrupt.
	switch v := item[attrWriteID].(type) {
	case nil:
	case *types.AttributeValueMemberB:
		s.wid = v.Value
	case *types.AttributeValueMemberS:
		s.wid = []byte(v.Value)
	default:
		return s, corrupt(attrWriteID, "neither B nor S")
	}
	s.exp = exp
	s.rec = Record{Key: key, Data: data.Value, Version: ver, ExpiresAt: expTime(exp)}
	if err := decodeOwned(item, &s.rec); err != nil {
		return storedItem{}, err
	}
	return s, nil
}

// decodeOwned decodes the owner attributes of item into rec. An item
// without the owner attribute has none. An owned item without a
// generation counts as generation 0, revoked by any Revoke: an item that
// cannot say when it was created is never kept alive by the doubt.
func decodeOwned(item map[string]types.AttributeValue, rec *Record) error {
	if _, ok := item[attrOwner]; !ok {
		return nil
	}
	owner, err := stringAttr(item, attrOwner)
	if err != nil {
		return err
	}
	rec.Owner = owner
	if _, ok := item[attrOwnerGen]; ok {
		text, err := numberAttr(item, attrOwnerGen)
		if err != nil {
			return err
		}
		if rec.Generation, err = strconv.ParseUint(text, 10, 64); err != nil {
			return corrupt(attrOwnerGen, "not a non-negative integer")
		}
	}
	if _, ok := item[attrCreated]; ok {
		text, err := numberAttr(item, attrCreated)
		if err != nil {
			return err
		}
		ct, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return corrupt(attrCreated, "not an integer")
		}
		rec.CreatedAt = expTime(ct)
	}
	switch m := item[attrMeta].(type) {
	case nil:
	case *types.AttributeValueMemberM:
		if len(m.Value) > 0 {
			rec.Meta = make(map[string]string, len(m.Value))
		}
		for k, v := range m.Value {
			sv, ok := v.(*types.AttributeValueMemberS)
			if !ok {
				return corrupt(attrMeta, "holds a value that is not of type S")
			}
			rec.Meta[k] = sv.Value
		}
	default:
		return corrupt(attrMeta, "not of type M")
	}
	return nil
}

// expTime converts a stored expiry to the time Records carry.
func expTime(exp int64) time.Time { return time.Unix(exp, 0).UTC() }

func stringAttr(item map[string]types.AttributeValue, name string) (string, error) {
	v, ok := item[name].(*types.AttributeValueMemberS)
	if !ok {
		return "", missingOrMistyped(item, name, "S")
	}
	return v.Value, nil
}

func numberAttr(item map[string]types.AttributeValue, name string) (string, error) {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return "", missingOrMistyped(item, name, "N")
	}
	return v.Value, nil
}

func missingOrMistyped(item map[string]types.AttributeValue, name, want string) error {
	if _, present := item[name]; !present {
		return corrupt(name, "missing")
	}
	return corrupt(name, "not of type "+want)
}

func corrupt(name, problem string) error {
	return fmt.Errorf("%w: attribute %q %s", ErrCorrupt, name, problem)
}
