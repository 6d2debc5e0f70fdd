package httpsession_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"slices"
	"strings"

	"github.com/tiersession/tiersession/httpsession"
	"github.com/tiersession/tiersession/remote"
	"github.com/tiersession/tiersession/tier"
)

// The quick start: a store, a Manager, the middleware around a handler
// that counts the visits of each client.
func Example() {
	// The in-memory remote stands in for DynamoDB (see tiersession.Open).
	store, _ := tier.New(remote.NewMemory(remote.MemoryOptions{}), tier.Options{})
	defer store.Close()
	sessions, _ := httpsession.New(store, httpsession.Options{})

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s, _ := httpsession.FromContext(r.Context())
		n, _ := s.GetInt("visits")
		s.PutInt("visits", n+1)
		fmt.Fprintf(w, "visit %d", n+1)
	})
	srv := httptest.NewTLSServer(sessions.Handle(mux)) // http.ListenAndServeTLS(addr, cert, key, sessions.Handle(mux))
	defer srv.Close()

	// A browser: the __Host- cookie needs https.
	client := srv.Client()
	client.Jar, _ = cookiejar.New(nil)
	for range 3 {
		resp, _ := client.Get(srv.URL)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	// Output:
	// visit 1
	// visit 2
	// visit 3
}

// Log in and out: Renew on login (a token known before the login does not
// reach the logged-in session), Destroy on logout.
func ExampleManager_Renew() {
	store, _ := tier.New(remote.NewMemory(remote.MemoryOptions{}), tier.Options{})
	defer store.Close()
	sessions, _ := httpsession.New(store, httpsession.Options{})

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// ... check the credentials ...
		if err := sessions.Renew(r); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		s, _ := httpsession.FromContext(r.Context())
		s.PutString("user", "alice")
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := sessions.Destroy(r); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		s, _ := httpsession.FromContext(r.Context())
		user, ok := s.GetString("user")
		fmt.Fprint(w, user, " ", ok)
	})
	srv := httptest.NewTLSServer(sessions.Handle(mux))
	defer srv.Close()
	client := srv.Client()
	client.Jar, _ = cookiejar.New(nil)

	me := func() {
		resp, _ := client.Get(srv.URL + "/me")
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(string(body))
	}
	post := func(path string) {
		resp, _ := client.Post(srv.URL+path, "", nil)
		resp.Body.Close()
	}
	post("/login")
	me()
	post("/logout")
	me()
	// Output:
	// alice true
	//  false
}

// "Your devices" and "log out everywhere": SetOwner ties each login to its
// user; List shows the user's sessions; DestroyAll ends them all.
func ExampleManager_SetOwner() {
	store, _ := tier.New(remote.NewMemory(remote.MemoryOptions{}), tier.Options{})
	defer store.Close()
	ownerKey := []byte("0123456789abcdef0123456789abcdef") // a secret, the same on every node
	sessions, _ := httpsession.New(store, httpsession.Options{OwnerKey: ownerKey})

	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// ... check the credentials: the user is alice ...
		if err := sessions.SetOwner(r, "alice", map[string]string{"device": r.FormValue("device")}); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("GET /devices", func(w http.ResponseWriter, r *http.Request) {
		s, _ := httpsession.FromContext(r.Context())
		devices, _ := sessions.List(r.Context(), s.Owner())
		var names []string
		for _, d := range devices {
			if d.ID == s.ID() {
				d.Meta["device"] += " (this one)"
			}
			names = append(names, d.Meta["device"])
		}
		slices.Sort(names) // List is oldest first, to the second
		fmt.Fprint(w, strings.Join(names, ", "))
	})
	mux.HandleFunc("POST /logout-everywhere", func(w http.ResponseWriter, r *http.Request) {
		s, _ := httpsession.FromContext(r.Context())
		if err := sessions.DestroyAll(r.Context(), s.Owner()); err != nil {
			http.Error(w, "try again", http.StatusServiceUnavailable)
			return
		}
		_ = sessions.Destroy(r)
	})
	mux.HandleFunc("GET /me", func(w http.ResponseWriter, r *http.Request) {
		s, _ := httpsession.FromContext(r.Context())
		fmt.Fprintf(w, "owner %q", s.Owner())
	})
	srv := httptest.NewTLSServer(sessions.Handle(mux))
	defer srv.Close()

	// Two browsers of alice's.
	browser := func() func(method, path string) {
		jar, _ := cookiejar.New(nil)
		client := &http.Client{Transport: srv.Client().Transport, Jar: jar}
		return func(method, path string) {
			req, _ := http.NewRequest(method, srv.URL+path, nil)
			resp, _ := client.Do(req)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if len(body) > 0 {
				fmt.Println(string(body))
			}
		}
	}
	phone, laptop := browser(), browser()
	phone("POST", "/login?device=phone")
	laptop("POST", "/login?device=laptop")
	laptop("GET", "/devices")
	phone("POST", "/logout-everywhere")
	laptop("GET", "/me")
	// Output:
	// laptop (this one), phone
	// owner ""
}
