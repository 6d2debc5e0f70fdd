package bench

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strconv"
)

// MinJSONPayload is the smallest JSON session payload, in bytes: the
// revision field and the padding field, empty.
const MinJSONPayload = len(`{"rev":"0000000000000000","pad":""}`)

// jsonRevOffset is where a JSON payload's revision (16 hex digits) starts;
// each write replaces it with the writer's counter.
const jsonRevOffset = len(`{"rev":"`)

// Pieces of the JSON sessions, in the shape of a web shop's session
// (remote/seal/testdata/session.json is one): identities, tokens, a cart
// and a browsing history, with random ids and tokens (which do not
// compress) among repeated field names and vocabulary (which do).
var (
	jsonFirstNames = []string{"Jane", "John", "Amira", "Kenji", "Lena", "Mateo", "Priya", "Olu", "Sofia", "Tomasz"}
	jsonLastNames  = []string{"Doe", "Schmidt", "Okafor", "Tanaka", "Rossi", "Novak", "Garcia", "Smith", "Berg", "Haddad"}
	jsonLocales    = []string{"de-DE", "en-US", "en-GB", "fr-FR", "ja-JP", "es-ES", "pl-PL"}
	jsonZones      = []string{"Europe/Berlin", "America/New_York", "Europe/London", "Europe/Paris", "Asia/Tokyo", "Europe/Madrid"}
	jsonAgents     = []string{
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
	}
	jsonProducts = []string{
		"Merino wool crew socks, charcoal, size M", "Stainless steel water bottle 750 ml", "Organic cotton t-shirt, navy, size L",
		"USB-C to USB-C cable, braided, 2 m", "Noise-cancelling wireless earbuds", "Recycled paper notebook, A5, dotted",
		"Ceramic pour-over coffee dripper", "Running shoes, trail, size 42", "Linen bed sheet set, double, sand",
	}
	jsonPaths = []string{
		"/products/socks/merino-crew", "/products/bottles/steel-750", "/cart", "/account/orders?page=2",
		"/search?q=usb-c+cable&sort=price_asc", "/products/audio/earbuds-anc", "/checkout/shipping", "/account/addresses",
	}
)

// jsonPayload returns a JSON session document of exactly size bytes (at
// least MinJSONPayload) drawn from r: the fields of a logged-in shop
// session, then as many cart and history entries as fit, then a "pad"
// string of random hex digits that makes up the size.
func jsonPayload(r *rand.Rand, size int) []byte {
	pick := func(s []string) string { return s[r.IntN(len(s))] }
	token := func(n int) string {
		b := make([]byte, (n*3+3)/4)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return base64.RawURLEncoding.EncodeToString(b)[:n]
	}
	ts := func() string {
		return fmt.Sprintf("2026-03-%02dT%02d:%02d:%02dZ", 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60))
	}
	first, last := pick(jsonFirstNames), pick(jsonLastNames)
	fields := []string{
		`"user_id":"usr_` + token(16) + `"`,
		`"email":"` + first + "." + last + `@example.com"`,
		`"display_name":"` + first + " " + last + `"`,
		`"tenant":"eu-west-shop","auth_method":"oidc","authenticated_at":"` + ts() + `","last_seen_at":"` + ts() + `"`,
		`"locale":"` + pick(jsonLocales) + `","timezone":"` + pick(jsonZones) + `"`,
		`"ip":"203.0.113.` + strconv.Itoa(r.IntN(256)) + `","user_agent":"` + pick(jsonAgents) + `"`,
		`"csrf_token":"` + token(43) + `"`,
		`"roles":["customer","beta-tester","newsletter"]`,
		`"mfa":{"method":"totp","verified":true,"verified_at":"` + ts() + `"}`,
		`"preferences":{"currency":"EUR","items_per_page":48,"newsletter":true,"show_prices_with_vat":true,"theme":"dark"}`,
		`"ab_tests":{"checkout_v3":"treatment","free_shipping_banner":"treatment","search_ranking":"control"}`,
		`"oauth":{"access_token":"` + token(32) + "." + token(230) + "." + token(43) + `","expires_at":"` + ts() +
			`","provider":"accounts.example.com","refresh_token":"` + token(64) + `","scope":"openid profile email orders:read orders:write"}`,
		`"shipping":{"city":"Berlin","country":"DE","method":"standard","name":"` + first + " " + last +
			`","postcode":"10115","street":"Invalidenstraße 117"}`,
		`"flash":[{"level":"info","message":"Your shipping address was updated."}]`,
	}
	const closing = `],"pad":""}`
	b := make([]byte, 0, size)
	b = append(b, `{"rev":"0000000000000000"`...)
	for _, f := range fields {
		if len(b)+1+len(f)+len(`,"activity":[`)+len(closing) <= size {
			b = append(b, ',')
			b = append(b, f...)
		}
	}
	if len(b)+len(`,"activity":[`)+len(closing) <= size {
		b = append(b, `,"activity":[`...)
		for n := 0; ; n++ {
			var e string
			if n%2 == 0 {
				e = fmt.Sprintf(`{"cart_add":{"sku":"SKU-%06d-EU","name":"%s","qty":%d,"unit_price":%d.%02d,"currency":"EUR","at":"%s"}}`,
					r.IntN(1e6), pick(jsonProducts), 1+r.IntN(3), 1+r.IntN(99), r.IntN(100), ts())
			} else {
				e = `{"view":{"path":"` + pick(jsonPaths) + `","at":"` + ts() + `"}}`
			}
			sep := 0
			if n > 0 {
				sep = 1
			}
			if len(b)+sep+len(e)+len(closing) > size {
				break
			}
			if sep > 0 {
				b = append(b, ',')
			}
			b = append(b, e...)
		}
		b = append(b, ']')
	}
	b = append(b, `,"pad":"`...)
	const hex = "0123456789abcdef"
	for len(b) < size-2 {
		b = append(b, hex[r.IntN(16)])
	}
	return append(b, `"}`...)
}

// setJSONRev writes c as the 16 hex digits of a JSON payload's revision.
func setJSONRev(p []byte, c uint64) {
	const hex = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		p[jsonRevOffset+i] = hex[c&15]
		c >>= 4
	}
}
