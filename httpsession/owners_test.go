package httpsession_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/httpsession"
	"github.com/tiersession/tiersession/tier"
)

var ownerKey = []byte("0123456789abcdef0123456789abcdef")

// loginAs ties token's session (a fresh one for "") to user on device and
// returns the token the response issues.
func (f *fixture) loginAs(t testing.TB, token, user, device string) string {
	t.Helper()
	rec := f.do(t, "/login?user="+url.QueryEscape(user)+"&device="+url.QueryEscape(device), token)
	if rec.Code != http.StatusOK {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	tok := issued(t, rec)
	if tok == "" || tok == token {
		t.Fatalf("login issued token %q; want a new one", tok)
	}
	if id := rec.Body.String(); id != tier.SessionID(tiersession.StorageKey(tok)) {
		t.Fatalf("Session.ID after login = %q; want the SessionID of the new token's key", id)
	}
	return tok
}

// devices returns the /devices lines of user, seen from token's request.
func (f *fixture) devices(t testing.TB, token, user string) []string {
	t.Helper()
	body := strings.TrimSpace(f.body(t, "/devices?user="+user, token))
	if body == "" {
		return nil
	}
	return strings.Split(body, "\n")
}

func TestSetOwner(t *testing.T) {
	f := newFixture(t, httpsession.Options{OwnerKey: ownerKey}, nil)
	anon := f.login(t) // an anonymous session holding user=alice
	phone := f.loginAs(t, anon, "alice", "phone")
	if got := f.body(t, "/whoami", phone); got != "alice" {
		t.Fatalf("owner = %q; want alice", got)
	}
	if got := f.body(t, "/get?k=user", phone); got != "alice" {
		t.Fatalf("the values did not move to the owned session: %q", got)
	}
	if got := f.body(t, "/get?k=user", anon); got != "alice" {
		t.Fatalf("the replaced token within RenewGrace reads %q; want the session", got)
	}
	// The store indexes a keyed hash of the user, never the user.
	rec := f.stored(t, phone)
	if rec.Owner != tier.HashOwner(ownerKey, "alice") || rec.Owner == "alice" || rec.Meta["device"] != "phone" {
		t.Fatalf("stored owner %q, meta %v; want the keyed hash and the device", rec.Owner, rec.Meta)
	}
	if f.stored(t, anon).Owner != "" {
		t.Fatal("the anonymous session's record got an owner")
	}
	// A fresh client logs in: its session is stored at once, owned.
	f.clock.Advance(time.Second) // List is oldest first
	laptop := f.loginAs(t, "", "alice", "laptop")
	if got := f.stored(t, laptop); got.Owner != rec.Owner || got.Meta["device"] != "laptop" {
		t.Fatalf("the laptop's record: owner %q, meta %v", got.Owner, got.Meta)
	}
	bob := f.loginAs(t, "", "bob", "tablet")

	lines := f.devices(t, phone, "alice")
	phoneID := tier.SessionID(tiersession.StorageKey(phone))
	laptopID := tier.SessionID(tiersession.StorageKey(laptop))
	if want := []string{phoneID + " phone *", laptopID + " laptop"}; strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Fatalf("alice's devices = %q; want %q", lines, want)
	}
	// The page never shows a token or a storage key.
	for _, secret := range []string{phone, laptop, tiersession.StorageKey(phone), tiersession.StorageKey(laptop)} {
		if strings.Contains(strings.Join(lines, ""), secret) {
			t.Fatal("the devices page shows a token or a storage key")
		}
	}

	// bob cannot end alice's laptop by its id; alice can.
	if rec := f.do(t, "/end?user=bob&id="+laptopID, bob); rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "not found") {
		t.Fatalf("bob ending alice's session: %d %s; want a not-found failure", rec.Code, rec.Body)
	}
	if got := f.body(t, "/whoami", laptop); got != "alice" {
		t.Fatal("bob's End ended alice's session")
	}
	f.body(t, "/end?user=alice&id="+laptopID, phone)
	if got := f.body(t, "/whoami", laptop); got != "" {
		t.Fatalf("the ended laptop session still has owner %q", got)
	}
	if lines := f.devices(t, phone, "alice"); len(lines) != 1 {
		t.Fatalf("alice's devices after End = %q; want the phone only", lines)
	}
	f.noSecrets(t, anon, phone, laptop, bob, tiersession.StorageKey(phone), "alice")
}

// TestDestroyAllLogsOutEverywhere logs alice out on every device from one
// of them, including a session the owner index has not listed yet and a
// replaced token still within RenewGrace; bob stays logged in.
func TestDestroyAllLogsOutEverywhere(t *testing.T) {
	f := newFixture(t, httpsession.Options{OwnerKey: ownerKey}, nil)
	anon := f.login(t)
	phone := f.loginAs(t, anon, "alice", "phone") // anon is now a pointer to it
	laptop := f.loginAs(t, "", "alice", "laptop")
	tablet := f.loginAs(t, "", "alice", "tablet")
	f.counted.hide(tiersession.StorageKey(tablet)) // just created: not indexed yet
	bob := f.loginAs(t, "", "bob", "phone")
	for _, tok := range []string{anon, phone, laptop, tablet} {
		if got := f.body(t, "/whoami", tok); got != "alice" {
			t.Fatalf("before: owner %q; want alice", got)
		}
	}

	rec := f.do(t, "/logoutall?user=alice", laptop)
	if rec.Code != http.StatusOK {
		t.Fatalf("logoutall: %d %s", rec.Code, rec.Body)
	}
	if c := rec.Result().Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Fatalf("logoutall cookies %v; want its own cookie cleared", c)
	}
	for name, tok := range map[string]string{"phone": phone, "laptop": laptop, "unindexed tablet": tablet, "replaced token": anon} {
		if got := f.body(t, "/whoami", tok); got != "" {
			t.Fatalf("%s after DestroyAll: owner %q; want a fresh session", name, got)
		}
		if got := f.body(t, "/get?k=user", tok); got != "<none>" {
			t.Fatalf("%s after DestroyAll reads %q; want nothing", name, got)
		}
	}
	if got := f.body(t, "/whoami", bob); got != "bob" {
		t.Fatalf("bob after alice's DestroyAll: owner %q", got)
	}
	// Logging in again works.
	again := f.loginAs(t, "", "alice", "phone")
	if lines := f.devices(t, again, "alice"); len(lines) != 1 || !strings.HasSuffix(lines[0], " *") {
		t.Fatalf("alice's devices after logging in again = %q; want this one only", lines)
	}
}

// TestRenewKeepsOwner: a renewed owned session stays owned, so a later
// DestroyAll ends it; and a merge after a conflict keeps the owner too.
func TestRenewKeepsOwner(t *testing.T) {
	f := newFixture(t, httpsession.Options{OwnerKey: ownerKey}, nil)
	tok := f.loginAs(t, "", "alice", "phone")
	renewed := issued(t, f.do(t, "/renew", tok))
	if renewed == "" || renewed == tok {
		t.Fatal("Renew issued no new token")
	}
	if got := f.stored(t, renewed); got.Owner != tier.HashOwner(ownerKey, "alice") || got.Meta["device"] != "phone" {
		t.Fatalf("the renewed record: owner %q, meta %v; want alice's, with the device", got.Owner, got.Meta)
	}

	// Two requests save at once: the second merges, and the owner stays.
	g := newGatedApp()
	h := f.mgr.Handle(g)
	a := serveAsync(h, "/?g=a&set=a:1", renewed)
	b := serveAsync(h, "/?g=b&set=b:2", renewed)
	<-g.ready
	<-g.ready
	close(g.gate("a"))
	<-a
	close(g.gate("b"))
	if rec := <-b; rec.Code != http.StatusOK {
		t.Fatalf("B: %d %s", rec.Code, rec.Body)
	}
	if f.mgr.Stats().Merged != 1 {
		t.Fatal("no merge; the test needs one")
	}
	if got := f.body(t, "/whoami", renewed); got != "alice" {
		t.Fatalf("owner after a merge = %q; want alice", got)
	}

	if err := f.mgr.DestroyAll(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if got := f.body(t, "/whoami", renewed); got != "" {
		t.Fatalf("the renewed session after DestroyAll: owner %q; want none", got)
	}
}

// TestOwnerKeyRotation: after OwnerKey changes, sessions tied under the
// previous key are still listed and destroyed.
func TestOwnerKeyRotation(t *testing.T) {
	f := newFixture(t, httpsession.Options{OwnerKey: ownerKey}, nil)
	old := f.loginAs(t, "", "alice", "old phone")
	newKey := []byte("fedcba9876543210fedcba9876543210")
	rotated, err := httpsession.New(f.store, httpsession.Options{OwnerKey: newKey, PreviousOwnerKeys: [][]byte{ownerKey}, Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.mgr, f.h = rotated, rotated.Handle(app(rotated))
	fresh := f.loginAs(t, "", "alice", "new phone")
	if got := f.stored(t, fresh); got.Owner != tier.HashOwner(newKey, "alice") {
		t.Fatal("a session tied after the rotation is not under the new key")
	}
	if lines := f.devices(t, fresh, "alice"); len(lines) != 2 {
		t.Fatalf("alice's devices = %q; want the old phone and the new one", lines)
	}
	if err := rotated.DestroyAll(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{old, fresh} {
		if got := f.body(t, "/whoami", tok); got != "" {
			t.Fatalf("after DestroyAll: owner %q; want none", got)
		}
	}
}

func TestOwnersOff(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, httpsession.Options{}, nil) // no OwnerKey
	if rec := f.do(t, "/login?user=alice", ""); rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "OwnerKey") {
		t.Fatalf("SetOwner without an OwnerKey: %d %s; want ErrNoOwners", rec.Code, rec.Body)
	}
	for name, err := range map[string]error{
		"List":       func() error { _, err := f.mgr.List(ctx, "alice"); return err }(),
		"End":        f.mgr.End(ctx, "alice", "id"),
		"DestroyAll": f.mgr.DestroyAll(ctx, "alice"),
	} {
		if !errors.Is(err, httpsession.ErrNoOwners) {
			t.Errorf("%s without an OwnerKey: err = %v; want ErrNoOwners", name, err)
		}
	}
	// A store without owners.
	noOwners, err := httpsession.New(plainStore{f.store}, httpsession.Options{OwnerKey: ownerKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := noOwners.DestroyAll(ctx, "alice"); !errors.Is(err, httpsession.ErrNoOwners) {
		t.Errorf("DestroyAll over a store without owners: err = %v; want ErrNoOwners", err)
	}
	for _, opts := range []httpsession.Options{
		{OwnerKey: []byte("short")},
		{OwnerKey: ownerKey, PreviousOwnerKeys: [][]byte{[]byte("short")}},
		{PreviousOwnerKeys: [][]byte{ownerKey}},
	} {
		if _, err := httpsession.New(f.store, opts); !errors.Is(err, httpsession.ErrBadOptions) {
			t.Errorf("New(%+v): err = %v; want ErrBadOptions", opts, err)
		}
	}
	owners := newFixture(t, httpsession.Options{OwnerKey: ownerKey}, nil)
	if rec := owners.do(t, "/login?user=", ""); rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "invalid") {
		t.Fatalf("SetOwner with an empty owner: %d %s; want ErrInvalid", rec.Code, rec.Body)
	}
}

// TestOwnedSessionWithoutOwnerKey: a Manager without OwnerKey (a
// misconfigured node) still serves and saves an owned session, but never
// renews it into a record without owner, which DestroyAll could not reach.
func TestOwnedSessionWithoutOwnerKey(t *testing.T) {
	f := newFixture(t, httpsession.Options{OwnerKey: ownerKey}, nil)
	tok := f.loginAs(t, "", "alice", "phone")
	plain, err := httpsession.New(f.store, httpsession.Options{Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.mgr, f.h = plain, plain.Handle(app(plain))
	f.body(t, "/set?k=a&v=1", tok)
	if got := f.body(t, "/whoami", tok); got != "alice" {
		t.Fatalf("owner after a save = %q; want alice", got)
	}
	rec := f.do(t, "/renew", tok)
	if rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), "OwnerKey") || issued(t, rec) != "" {
		t.Fatalf("Renew of an owned session without OwnerKey: %d %s; want ErrNoOwners and no new token", rec.Code, rec.Body)
	}
	if got := f.stored(t, tok); got.Owner != tier.HashOwner(ownerKey, "alice") {
		t.Fatal("the session lost its owner")
	}
}

// plainStore hides a store's owner methods.
type plainStore struct{ httpsession.Store }
