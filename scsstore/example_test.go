package scsstore_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/alexedwards/scs/v2"

	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/scsstore"
	"github.com/tiersession/tiersession/tier"
)

// An scs application moves its sessions to tiersession by setting one
// field: everything else about scs stays as it was.
func Example() {
	// The in-memory remote stands in for DynamoDB (remote.NewDynamo).
	store, err := tier.New(remote.NewMemory(remote.MemoryOptions{}), tier.Options{})
	if err != nil {
		panic(err)
	}
	defer store.Close()

	sessionManager := scs.New()
	sessionManager.Store = scsstore.New(store) // the switch

	mux := http.NewServeMux()
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		sessionManager.Put(r.Context(), "message", "Hello from a session!")
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, sessionManager.GetString(r.Context(), "message"))
	})
	handler := sessionManager.LoadAndSave(mux)

	put := httptest.NewRecorder()
	handler.ServeHTTP(put, httptest.NewRequest(http.MethodGet, "/put", nil))
	cookie := put.Result().Cookies()[0]

	req := httptest.NewRequest(http.MethodGet, "/get", nil)
	req.AddCookie(cookie)
	got := httptest.NewRecorder()
	handler.ServeHTTP(got, req)
	fmt.Println(got.Body.String())
	// Output:
	// Hello from a session!
}
