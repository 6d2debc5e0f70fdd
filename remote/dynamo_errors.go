package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// This file turns SDK errors into this package's errors. SDK error types
// never leave the package: the returned errors wrap a sentinel (and, when
// the caller's context ended, the context error) and carry the SDK's error
// code and message as text only.
//
// Reads map every failure to ErrUnavailable. Writes have to say whether the
// write may have been applied:
//
//   - a write none of whose attempts was handed to the HTTP client (the
//     context ended first, or the SDK failed while preparing the request)
//     was not sent at all: ErrUnavailable, with the context's error if it
//     ended;
//   - a client-side rejection (4xx: throttling, validation, auth, missing
//     table) or a connection that was never made (dial error) means the
//     write did not happen: ErrUnavailable;
//   - a server error (5xx), a timeout, a broken connection or a context
//     that ended mid-call may hide an applied write: ErrUnknownOutcome.
//
// The SDK retries, so the final error is not the whole story: a write whose
// first attempt timed out after reaching the server and whose last attempt
// was throttled may well have been applied. attemptLog watches every attempt
// of one call and remembers whether any of them was sent, and whether any
// that was sent failed ambiguously.

// attemptLog records, for one operation call, whether any attempt was sent
// and whether any sent attempt failed in a way that may hide an applied
// write. It is used by one call at a time; the SDK runs the attempts of a
// call sequentially on the calling goroutine.
type attemptLog struct {
	sent      bool // some attempt was handed to the HTTP client
	current   bool // the attempt under way was
	ambiguous bool
}

// ID names the middleware in the SDK stack.
func (*attemptLog) ID() string { return "tiersession.attemptLog" }

// HandleFinalize runs once per attempt: it sits right inside the SDK's
// retry loop, so it sees each attempt's error before the retryer does. An
// attempt that failed before it was sent (signing, a context that ended)
// applied nothing, whatever its error.
func (a *attemptLog) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (
	middleware.FinalizeOutput, middleware.Metadata, error,
) {
	a.current = false
	out, md, err := next.HandleFinalize(ctx, in)
	if err != nil && a.current && mayHaveApplied(err) {
		a.ambiguous = true
	}
	return out, md, err
}

// sendGate is the last middleware before the HTTP client. It refuses to
// send an attempt whose context has ended, so such an attempt certainly
// sent nothing, and marks the others as sent.
type sendGate struct{ log *attemptLog }

// ID names the middleware in the SDK stack.
func (sendGate) ID() string { return "tiersession.sendGate" }

// HandleDeserialize runs once per attempt, just before the request is
// handed to the HTTP client.
func (g sendGate) HandleDeserialize(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (
	middleware.DeserializeOutput, middleware.Metadata, error,
) {
	if err := ctx.Err(); err != nil {
		return middleware.DeserializeOutput{}, middleware.Metadata{}, err
	}
	// From here on the request may reach the server, even if the
	// context ends before the first byte is written.
	g.log.sent, g.log.current = true, true
	return next.HandleDeserialize(ctx, in)
}

// option installs the log and its gate on one operation call.
func (a *attemptLog) option(o *dynamodb.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		// The option runs after the SDK built the stack, so the gate
		// added last to the deserialize step is the innermost handler,
		// right before the HTTP client.
		if err := s.Deserialize.Add(sendGate{a}, middleware.After); err != nil {
			return err
		}
		// "Retry" is the ID of the SDK's retry loop (retry.Attempt).
		if err := s.Finalize.Insert(a, "Retry", middleware.After); err != nil {
			// No retry middleware: a single attempt, log it anywhere.
			return s.Finalize.Add(a, middleware.Before)
		}
		return nil
	})
}

// mayHaveApplied reports whether an attempt that failed with err may still
// have been applied by the server.
func mayHaveApplied(err error) bool {
	var cond *types.ConditionalCheckFailedException
	if errors.As(err, &cond) {
		return false
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorFault() == smithy.FaultServer || httpStatus(err) >= 500
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return false // the request never left this host
	}
	// Timeouts, resets, truncated or undecodable responses.
	return true
}

// httpStatus is the HTTP status of the response that produced err, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// describe renders an SDK error as text for an error message: the error
// code, message and HTTP status for API errors, the SDK's text otherwise.
// Neither contains request parameters, so no key or payload leaks.
func describe(err error) string {
	var notes []string
	var apiErr smithy.APIError
	var opErr *net.OpError
	var s string
	switch {
	case errors.As(err, &apiErr):
		s = apiErr.ErrorCode()
		if msg := apiErr.ErrorMessage(); msg != "" {
			s += ": " + msg
		}
		notes = append(notes, fmt.Sprintf("HTTP %d", httpStatus(err)))
	case errors.As(err, &opErr):
		// The SDK's own text wraps this in layers of boilerplate.
		s = opErr.Error()
	default:
		return err.Error()
	}
	var maxErr *retry.MaxAttemptsError
	if errors.As(err, &maxErr) {
		notes = append(notes, fmt.Sprintf("after %d attempts", maxErr.Attempt))
	}
	if len(notes) > 0 {
		s += " (" + strings.Join(notes, ", ") + ")"
	}
	return s
}

// errorCode is the API error code of err, or "".
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// readError maps the failure of a read (or of a table operation).
func readError(ctx context.Context, op string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("remote: dynamodb %s: %w", op, ctxErr)
	}
	return fmt.Errorf("%w: dynamodb %s: %s", ErrUnavailable, op, describe(err))
}

// writeError maps the failure of a write whose attempts were watched by log
// (nil when unwatched), other than a failed condition check.
func writeError(ctx context.Context, op string, err error, log *attemptLog) error {
	if log != nil && !log.sent {
		// No attempt reached the HTTP client: nothing was written,
		// whatever ended the call.
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("%w: dynamodb %s not sent: %w", ErrUnavailable, op, ctxErr)
		}
		return fmt.Errorf("%w: dynamodb %s not sent: %s", ErrUnavailable, op, describe(err))
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%w: dynamodb %s: %w", ErrUnknownOutcome, op, ctxErr)
	}
	if mayHaveApplied(err) {
		return fmt.Errorf("%w: dynamodb %s: %s", ErrUnknownOutcome, op, describe(err))
	}
	if log != nil && log.ambiguous {
		return fmt.Errorf("%w: dynamodb %s: %s; an earlier attempt may have been applied",
			ErrUnknownOutcome, op, describe(err))
	}
	return fmt.Errorf("%w: dynamodb %s: %s", ErrUnavailable, op, describe(err))
}

// readBackError maps the failure of the consistent read that follows a
// failed condition check of a write watched by log. That attempt was
// rejected, so the write was applied only if an earlier attempt was
// ambiguous.
func readBackError(ctx context.Context, op string, err error, log *attemptLog) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%w: dynamodb %s: %w", ErrUnknownOutcome, op, ctxErr)
	}
	sentinel := ErrUnavailable
	if log.ambiguous {
		sentinel = ErrUnknownOutcome
	}
	return fmt.Errorf("%w: dynamodb %s: condition check failed, then reading the item back: %s",
		sentinel, op, describe(err))
}
