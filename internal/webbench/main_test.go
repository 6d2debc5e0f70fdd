package webbench

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// scs.New starts a memstore whose cleanup goroutine cannot be
		// stopped: StopCleanup right after New finds no channel yet
		// (scs v2.9.0 makes it inside the goroutine).
		goleak.IgnoreTopFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup"))
}
