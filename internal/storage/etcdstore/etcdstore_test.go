package etcdstore_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/childcase/childcase/internal/storage/etcdstore"
	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
	"github.com/childcase/childcase/internal/storage/kv"
)

func TestConfigValidateNamesTheField(t *testing.T) {
	ok := etcdstore.Config{Endpoints: []string{"http://127.0.0.1:2379"}}
	tests := []struct {
		name  string
		edit  func(*etcdstore.Config)
		field string // "" for a valid config
	}{
		{"defaults", func(*etcdstore.Config) {}, ""},
		{"no endpoint", func(c *etcdstore.Config) { c.Endpoints = nil }, "Endpoints"},
		{"blank endpoint", func(c *etcdstore.Config) { c.Endpoints = []string{" "} }, "Endpoints[0]"},
		{"prefix without slashes", func(c *etcdstore.Config) { c.Prefix = "childcase" }, "Prefix"},
		{"prefix without the last slash", func(c *etcdstore.Config) { c.Prefix = "/childcase" }, "Prefix"},
		{"root prefix", func(c *etcdstore.Config) { c.Prefix = "/" }, "Prefix"},
		{"empty segment", func(c *etcdstore.Config) { c.Prefix = "/a//" }, "Prefix"},
		{"bucket separator in the prefix", func(c *etcdstore.Config) { c.Prefix = "/a#seq/" }, "Prefix"},
		{"zero byte in the prefix", func(c *etcdstore.Config) { c.Prefix = "/a\x00b/" }, "Prefix"},
		{"space in the prefix", func(c *etcdstore.Config) { c.Prefix = "/child case/" }, "Prefix"},
		{"nested prefix", func(c *etcdstore.Config) { c.Prefix = "/hn/prod-1.a_b/" }, ""},
		{"endpoint without host", func(c *etcdstore.Config) { c.Endpoints = []string{"http://:2379"} }, "Endpoints[0]"},
		{"endpoint with a port that is no number", func(c *etcdstore.Config) { c.Endpoints = []string{"http://a:1", "http://h:notaport"} }, "Endpoints[1]"},
		{"endpoint with port 0", func(c *etcdstore.Config) { c.Endpoints = []string{"http://h:0"} }, "Endpoints[0]"},
		{"endpoint with a port too large", func(c *etcdstore.Config) { c.Endpoints = []string{"https://h:99999"} }, "Endpoints[0]"},
		// strconv.Atoi reads a sign: "+1" passed as port 1, and the
		// client then waited its whole dial timeout on a URL it cannot use.
		{"endpoint with a signed port", func(c *etcdstore.Config) { c.Endpoints = []string{"http://h:+2379"} }, "Endpoints[0]"},
		{"endpoint without port", func(c *etcdstore.Config) { c.Endpoints = []string{"http://h"} }, "Endpoints[0]"},
		{"endpoint with a path", func(c *etcdstore.Config) { c.Endpoints = []string{"http://h:2379/x"} }, "Endpoints[0]"},
		{"IPv6 endpoint", func(c *etcdstore.Config) { c.Endpoints = []string{"http://[::1]:2379"} }, ""},
		{"certificate without key", func(c *etcdstore.Config) { c.CertFile = "c.pem" }, "CertFile, KeyFile"},
		{"negative dial timeout", func(c *etcdstore.Config) { c.DialTimeout = -time.Second }, "DialTimeout"},
		{"one op", func(c *etcdstore.Config) { c.MaxTxnOps = 1 }, "MaxTxnOps"},
		{"tiny requests", func(c *etcdstore.Config) { c.MaxRequestBytes = 100 }, "MaxRequestBytes"},
		{"requests over 2 GiB", func(c *etcdstore.Config) { c.MaxRequestBytes = math.MaxInt }, "MaxRequestBytes"},
		{"requests of 1 GiB", func(c *etcdstore.Config) { c.MaxRequestBytes = 1 << 30 }, ""},
		{"endpoint with a scheme of its own", func(c *etcdstore.Config) { c.Endpoints = []string{"unix://h:1"} }, "Endpoints[0]"},
		{"endpoint with a user", func(c *etcdstore.Config) { c.Endpoints = []string{"http://u@h:1"} }, "Endpoints[0]"},
		{"password alone", func(c *etcdstore.Config) { c.Password = "x" }, "Username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.edit(&cfg)
			err := cfg.Validate()
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("Validate = %v, want nil", err)
			case tt.field != "" && (err == nil || !strings.Contains(err.Error(), "etcd "+tt.field)):
				t.Fatalf("Validate = %v, want an error naming %s", err, tt.field)
			}
			// The field is there for a caller to name its own setting
			// (childcase's flags).
			if ce := (*etcdstore.ConfigError)(nil); tt.field != "" && (!errors.As(err, &ce) || ce.Field != tt.field) {
				t.Fatalf("Validate = %#v, want a ConfigError of %s", err, tt.field)
			}
		})
	}
}

func TestTLSNamesTheFiles(t *testing.T) {
	cfg := etcdstore.Config{CAFile: "/nonexistent/ca.pem"}
	if _, err := cfg.TLS(); err == nil || !strings.Contains(err.Error(), "CAFile") {
		t.Fatalf("TLS with a missing CA file = %v, want an error naming CAFile", err)
	}
	garbage := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A CA file without a certificate would make every handshake fail,
	// and Open wait for its dial timeout saying only that nothing answers.
	if _, err := (etcdstore.Config{CAFile: garbage}).TLS(); err == nil || !strings.Contains(err.Error(), "etcd CAFile") {
		t.Fatalf("TLS with a CA file that holds no certificate = %v, want an error naming CAFile", err)
	}
	var ce *etcdstore.ConfigError
	if _, err := (etcdstore.Config{CertFile: garbage, KeyFile: garbage}).TLS(); !errors.As(err, &ce) || ce.Field != "CertFile, KeyFile" {
		t.Fatalf("TLS with a certificate and key that are no PEM = %v, want a ConfigError of CertFile, KeyFile", err)
	}
	if tc, err := (etcdstore.Config{}).TLS(); tc != nil || err != nil {
		t.Fatalf("TLS without files = %v, %v, want plain connections", tc, err)
	}
}

func TestOpenChecksTheClusterAnswers(t *testing.T) {
	c := etcdtest.Start(t, 1, etcdtest.WithoutFsync())
	eps := c.Endpoints()
	c.Stop(0)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	e, err := etcdstore.Open(ctx, etcdstore.Config{Endpoints: eps, DialTimeout: 300 * time.Millisecond})
	if err == nil {
		_ = e.Close()
		t.Fatal("Open of a stopped cluster succeeded")
	}
}

// TestDeleteBucketThenRefill: a bucket deleted and filled again in one
// transaction holds only the new keys, and its sequence starts again
// (etcd refuses a Txn that puts inside a range it deletes, so the engine
// must not send one).
func TestDeleteBucketThenRefill(t *testing.T) {
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 5) // k000..k004
	err := e.Update(t.Context(), func(tx kv.Tx) error {
		if _, err := tx.Bucket(bucketName).NextSequence(); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Update(t.Context(), func(tx kv.Tx) error {
		if err := tx.DeleteBucket(bucketName); err != nil {
			return err
		}
		b, err := tx.CreateBucketIfNotExists(bucketName)
		if err != nil {
			return err
		}
		for _, k := range []string{"a", "k002", "z"} {
			if err := b.Put([]byte(k), []byte("new")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = e.View(t.Context(), func(tx kv.Tx) error {
		b := tx.Bucket(bucketName)
		var got []string
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			got = append(got, string(k)+"="+string(v))
		}
		if want := "a=new k002=new z=new"; strings.Join(got, " ") != want {
			return fmt.Errorf("bucket holds %q, want %s", got, want)
		}
		if s := b.Sequence(); s != 0 {
			return fmt.Errorf("sequence %d after the bucket was deleted, want 0", s)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestSetSequenceCarriesOver: a sequence set (as moving a bucket from
// another engine does) is where NextSequence continues, in the same
// transaction and after the commit; a read-only transaction cannot set it.
func TestSetSequenceCarriesOver(t *testing.T) {
	e, _ := open(t, etcdstore.Config{}, etcdtest.WithoutFsync())
	fill(t, e, 0)
	err := e.Update(t.Context(), func(tx kv.Tx) error {
		b := tx.Bucket(bucketName)
		if err := b.SetSequence(41); err != nil {
			return err
		}
		if s, err := b.NextSequence(); err != nil || s != 42 {
			return fmt.Errorf("NextSequence after SetSequence(41) = %d, %v, want 42", s, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A transaction that only sets the sequence writes it too.
	err = e.Update(t.Context(), func(tx kv.Tx) error { return tx.Bucket(bucketName).SetSequence(100) })
	if err != nil {
		t.Fatal(err)
	}
	err = e.View(t.Context(), func(tx kv.Tx) error {
		b := tx.Bucket(bucketName)
		if s := b.Sequence(); s != 100 {
			return fmt.Errorf("committed sequence %d, want 100", s)
		}
		if err := b.SetSequence(7); err == nil {
			return fmt.Errorf("SetSequence in a view succeeded")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenSaysNoMemberAcceptsAConnection: endpoints where nothing listens
// (a wrong port, or members not running) are refused as a setting of the
// endpoints, with the reason of each, not only as a cluster that "does
// not answer: context deadline exceeded".
func TestOpenSaysNoMemberAcceptsAConnection(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	e, err := etcdstore.Open(t.Context(), etcdstore.Config{Endpoints: []string{"http://" + closed}, DialTimeout: 300 * time.Millisecond})
	if err == nil {
		_ = e.Close()
		t.Fatal("Open of an endpoint where nothing listens succeeded")
	}
	var ce *etcdstore.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Endpoints" || !strings.Contains(ce.Rule, "no member accepts a connection") ||
		!strings.Contains(ce.Rule, closed) || !strings.Contains(ce.Rule, "connection refused") {
		t.Fatalf("Open = %v, want a ConfigError of Endpoints saying that no member at %s accepts a connection, and why", err, closed)
	}
}

// TestOpenSaysAnEndpointIsNoEtcdMember: an endpoint that answers gRPC
// without etcd's services (a childcase instance's own gRPC port given to
// --store, or another service's) is refused as a setting of the
// endpoints, saying it is no etcd member, not as a cluster that "does not
// answer: ... Unimplemented desc = no such method".
func TestOpenSaysAnEndpointIsNoEtcdMember(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	other := grpc.NewServer()
	healthpb.RegisterHealthServer(other, health.NewServer())
	go func() { _ = other.Serve(l) }()
	defer other.Stop()
	e, err := etcdstore.Open(t.Context(), etcdstore.Config{Endpoints: []string{"http://" + l.Addr().String()}, DialTimeout: 3 * time.Second})
	if err == nil {
		_ = e.Close()
		t.Fatal("Open of a gRPC server that is no etcd member succeeded")
	}
	var ce *etcdstore.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Endpoints" || !strings.Contains(ce.Rule, l.Addr().String()+" is no etcd member") {
		t.Fatalf("Open = %v, want a ConfigError of Endpoints saying that %s is no etcd member", err, l.Addr())
	}
}

// TestOpenSaysAWebServerIsNoEtcdMember: an endpoint that is a web server
// (a childcase instance's --http-addr given to --store) was refused only
// as a cluster that "does not answer: context deadline exceeded"; it is
// refused as a setting of the endpoints, saying it is no etcd member.
func TestOpenSaysAWebServerIsNoEtcdMember(t *testing.T) {
	web := httptest.NewServer(http.NotFoundHandler())
	defer web.Close()
	addr := strings.TrimPrefix(web.URL, "http://")
	e, err := etcdstore.Open(t.Context(), etcdstore.Config{Endpoints: []string{web.URL}, DialTimeout: 300 * time.Millisecond})
	if err == nil {
		_ = e.Close()
		t.Fatal("Open of a web server succeeded")
	}
	var ce *etcdstore.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Endpoints" || !strings.Contains(ce.Rule, addr+" is no etcd member") {
		t.Fatalf("Open = %v, want a ConfigError of Endpoints saying that %s is no etcd member", err, addr)
	}
}

// TestSpaceIsTheMemberWithTheLeastRoom: etcd raises its NOSPACE alarm,
// which refuses every write of the cluster, once any member's database
// reaches that member's own quota. While members run with different
// quotas (a rolling change of --quota-backend-bytes), Space must answer
// for the member with the least room left, not for the largest database
// under another member's quota, or the reserve kept for the audit events
// of reads would be measured against a quota the cluster does not keep.
func TestSpaceIsTheMemberWithTheLeastRoom(t *testing.T) {
	const small, large = 8 << 20, 1 << 30
	c := etcdtest.Start(t, 2, etcdtest.WithoutFsync(), etcdtest.WithQuotas(large, small))
	e, err := etcdstore.Open(t.Context(), etcdstore.Config{Endpoints: c.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	size, quota, err := e.Space(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if quota != small || size <= 0 || size >= small {
		t.Fatalf("Space = size %d, quota %d; want the quota of the member with the least room, %d", size, quota, small)
	}
}
