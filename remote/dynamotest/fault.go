package dynamotest

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Fault is a failure FaultTransport injects into one item write.
type Fault int

const (
	// LoseResponse forwards the write to the server, which applies it,
	// then discards the server's answer and replies HTTP 500
	// InternalServerError instead, as a timeout after the write landed
	// would look. The SDK retries the same request, with the same write
	// id, against the real server.
	LoseResponse Fault = iota + 1
	// ServerError replies HTTP 500 InternalServerError without forwarding:
	// the write is not applied, but the client cannot tell.
	ServerError
	// Throttle replies HTTP 400 ThrottlingException without forwarding.
	Throttle
)

// String returns the fault's name.
func (f Fault) String() string {
	switch f {
	case LoseResponse:
		return "LoseResponse"
	case ServerError:
		return "ServerError"
	case Throttle:
		return "Throttle"
	}
	return "Fault(" + strconv.Itoa(int(f)) + ")"
}

// writeTargets are the X-Amz-Target values of item writes, the only
// requests faults apply to.
var writeTargets = map[string]bool{
	"DynamoDB_20120810.PutItem":    true,
	"DynamoDB_20120810.UpdateItem": true,
	"DynamoDB_20120810.DeleteItem": true,
}

// FaultTransport is an http.RoundTripper between a DynamoDB client and the
// server. It counts requests and applies queued faults, in order, to the
// next item writes (PutItem, UpdateItem, DeleteItem); everything else goes
// through untouched. Build a client on one with NewFaultClient. It is safe
// for concurrent use.
type FaultTransport struct {
	next     http.RoundTripper
	requests atomic.Int64

	mu     sync.Mutex
	faults []Fault
}

// Inject queues faults for the next item writes, one fault per request.
// The SDK's retries are requests too: Inject(LoseResponse, Throttle) loses
// the response of a write's first attempt and throttles its retry.
func (f *FaultTransport) Inject(faults ...Fault) {
	f.mu.Lock()
	f.faults = append(f.faults, faults...)
	f.mu.Unlock()
}

// LoseNextResponse arranges that the next item write is applied by the
// server but its response is lost (Inject(LoseResponse)).
func (f *FaultTransport) LoseNextResponse() { f.Inject(LoseResponse) }

// Pending returns how many injected faults have not been applied yet.
func (f *FaultTransport) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.faults)
}

// Requests returns how many requests reached the transport so far,
// counting every attempt of a retried call.
func (f *FaultTransport) Requests() int64 { return f.requests.Load() }

// CloseIdleConnections closes the idle connections of the wrapped
// transport.
func (f *FaultTransport) CloseIdleConnections() {
	if c, ok := f.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// RoundTrip implements http.RoundTripper.
func (f *FaultTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	f.requests.Add(1)
	fault := f.take(req)
	switch fault {
	case 0:
		return f.next.RoundTrip(req)
	case LoseResponse:
		resp, err := f.next.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		// Wait for the whole answer: the write has then been applied.
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return errorResponse(req, http.StatusInternalServerError, "InternalServerError",
			"dynamotest: response lost after the server applied the write"), nil
	default:
		if req.Body != nil {
			req.Body.Close()
		}
		if fault == Throttle {
			return errorResponse(req, http.StatusBadRequest, "ThrottlingException",
				"dynamotest: throttled"), nil
		}
		return errorResponse(req, http.StatusInternalServerError, "InternalServerError",
			"dynamotest: server error, write not applied"), nil
	}
}

// take pops the fault for req: the next queued one if req is an item
// write, none otherwise.
func (f *FaultTransport) take(req *http.Request) Fault {
	if !writeTargets[req.Header.Get("X-Amz-Target")] {
		return 0
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.faults) == 0 {
		return 0
	}
	fault := f.faults[0]
	f.faults = f.faults[1:]
	return fault
}

// errorResponse builds a DynamoDB JSON error response as the service sends
// it, checksum included.
func errorResponse(req *http.Request, status int, code, message string) *http.Response {
	body, _ := json.Marshal(map[string]string{
		"__type":  "com.amazonaws.dynamodb.v20120810#" + code,
		"message": message,
	})
	h := make(http.Header)
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	h.Set("X-Amzn-Requestid", "dynamotest-injected-fault")
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(strings.NewReader(string(body))),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}
