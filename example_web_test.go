package tiersession_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/alexedwards/scs/v2"

	"github.com/tiersession/tiersession"
	"github.com/tiersession/tiersession/httpsession"
	"github.com/tiersession/tiersession/scsstore"
)

// Example_httpsession is the quick start for net/http: sessions in
// DynamoDB, a cookie per client, a counter per session. It needs AWS and
// a certificate, so it is compiled but not run (httpsession's own Example
// runs the same handler on a test server).
func Example_httpsession() {
	store, err := tiersession.Open(context.Background(), tiersession.Config{Table: "sessions", EnsureTable: true})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	sessions, err := httpsession.New(store, httpsession.Options{}) // __Host- cookie, 30 min idle, 24 h lifetime
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s, _ := httpsession.FromContext(r.Context())
		n, _ := s.GetInt("visits")
		s.PutInt("visits", n+1) // saved before the response starts; only changed keys are written
		fmt.Fprintf(w, "visit %d\n", n+1)
	})
	log.Fatal(http.ListenAndServeTLS(":8443", "cert.pem", "key.pem", sessions.Handle(mux)))
}

// Example_scs is the switch for an application on scs v2: its sessions
// move to tiersession by setting one field.
func Example_scs() {
	store, err := tiersession.Open(context.Background(), tiersession.Config{Table: "sessions"})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	sessionManager := scs.New()
	sessionManager.Store = scsstore.New(store)
}
