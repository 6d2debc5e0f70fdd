package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	secret := strings.Repeat("s", 32)
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    config
		wantErr string
	}{
		{name: "defaults", want: config{addr: "127.0.0.1:8080", dev: true}},
		{name: "localhost is loopback", args: []string{"-addr", "localhost:9000"}, want: config{addr: "localhost:9000", dev: true}},
		{name: "ipv6 loopback", args: []string{"-addr", "[::1]:9000"}, want: config{addr: "[::1]:9000", dev: true}},
		{name: "all interfaces: not dev", args: []string{"-addr", ":8080"}, want: config{addr: ":8080"}},
		{name: "public address: not dev", args: []string{"-addr", "0.0.0.0:8080"}, want: config{addr: "0.0.0.0:8080"}},
		{name: "explicit -dev on a public address", args: []string{"-addr", ":8080", "-dev"}, want: config{addr: ":8080", dev: true}},
		{name: "explicit -dev=false on loopback", args: []string{"-dev=false"}, want: config{addr: "127.0.0.1:8080"}},
		{
			name: "table and redis from the environment",
			env:  map[string]string{envTable: "sessions", envRedis: "127.0.0.1:6379", envBusSecret: secret},
			want: config{addr: "127.0.0.1:8080", dev: true, table: "sessions", redis: "127.0.0.1:6379", busSecret: secret},
		},
		{
			name: "flags win over the environment",
			args: []string{"-table", "t2", "-redis", "127.0.0.1:7000", "-endpoint", "http://127.0.0.1:8000", "-create-table"},
			env:  map[string]string{envTable: "t1", envRedis: "127.0.0.1:6379", envBusSecret: secret},
			want: config{addr: "127.0.0.1:8080", dev: true, table: "t2", endpoint: "http://127.0.0.1:8000", createTable: true, redis: "127.0.0.1:7000", busSecret: secret},
		},
		{name: "owner key from the environment", env: map[string]string{envOwnerKey: "0123456789abcdef"}, want: config{addr: "127.0.0.1:8080", dev: true, ownerKey: "0123456789abcdef"}},
		{name: "short owner key", env: map[string]string{envOwnerKey: "short"}, wantErr: "at least 16 bytes"},
		{name: "redis without a secret", args: []string{"-redis", "127.0.0.1:6379"}, wantErr: envBusSecret},
		{name: "redis with a short secret", args: []string{"-redis", "127.0.0.1:6379"}, env: map[string]string{envBusSecret: "short"}, wantErr: "at least 32 bytes"},
		{name: "endpoint without a table", args: []string{"-endpoint", "http://127.0.0.1:8000"}, wantErr: "need -table"},
		{name: "create-table without a table", args: []string{"-create-table"}, wantErr: "need -table"},
		{name: "address without a port", args: []string{"-addr", "127.0.0.1"}, wantErr: "-addr"},
		{name: "stray argument", args: []string{"serve"}, wantErr: "unexpected arguments"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFlags(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v; want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	var out strings.Builder
	_, err := parseFlags([]string{"-help"}, func(string) string { return "" }, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err %v; want flag.ErrHelp", err)
	}
	for _, want := range []string{envTable, envRedis, envBusSecret, "-dev", "loopback", "-addr"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-help does not mention %s:\n%s", want, out.String())
		}
	}
	if code := run(context.Background(), []string{"-help"}, func(string) string { return "" }, io.Discard); code != exitOK {
		t.Errorf("run -help: exit %d; want %d", code, exitOK)
	}
	if code := run(context.Background(), []string{"-nope"}, func(string) string { return "" }, io.Discard); code != exitUsage {
		t.Errorf("run -nope: exit %d; want %d", code, exitUsage)
	}
}

// serve answers until its context ends, then stops accepting, lets the
// request in flight finish and returns nil.
func TestServeShutsDownGracefully(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		w.WriteHeader(http.StatusNoContent)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, h, slog.New(slog.NewTextHandler(t.Output(), nil))) }()

	got := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				err = errors.New(resp.Status)
			}
		}
		got <- err
	}()
	<-started
	cancel()
	// The listener closes as the shutdown starts, while the request is
	// still in its handler.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting 10s after the cancel")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("serve returned %v before the request in flight finished", err)
	default:
	}
	close(release)
	if err := <-got; err != nil {
		t.Fatalf("the request in flight during the shutdown: %v", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("serve did not return")
	}
}

// run serves the demo on the address it is given and exits 0 when its
// context ends.
func TestRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // run listens itself; the port is free again
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-addr", addr}, func(string) string { return "" }, t.Output()) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /: %s", resp.Status)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not answer within 10s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("exit %d; want %d", code, exitOK)
	}
}
