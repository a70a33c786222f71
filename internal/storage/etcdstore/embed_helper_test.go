package etcdstore_test

import (
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/childcase/childcase/internal/storage/etcdstore/etcdtest"
)

// startEtcd starts a one-member etcd cluster in the process (etcdtest),
// stopped when the test ends, and returns the member's client URL.
func startEtcd(t *testing.T) string {
	t.Helper()
	return etcdtest.Start(t, 1, etcdtest.WithoutFsync()).Endpoints()[0]
}

// newClient is a client of the etcd at endpoint, closed when the test
// ends (closing it again earlier is harmless).
func newClient(t *testing.T, endpoint string) *clientv3.Client {
	t.Helper()
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
