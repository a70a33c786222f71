package crashtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	pb "github.com/childcase/childcase/api/childcase/v1"
)

// child is a running childcase serve process.
type child struct {
	cmd      *exec.Cmd
	grpcAddr string
	// metricsAddr serves /metrics when the harness asked for them
	// (harness.metrics), else "".
	metricsAddr string
	logPath     string // its standard output and error
	exited      chan struct{}
	waitErr     error
}

// start execs the binary on the harness's store (h.storeArgs) with fresh
// ports and waits until gRPC health answers SERVING.
func (h *harness) start() *child {
	h.t.Helper()
	var last error
	for attempt := 0; attempt < 5; attempt++ {
		c, err := h.startOnce()
		if err == nil {
			return c
		}
		last = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	h.t.Fatalf("start the server: %v", last)
	return nil
}

func (h *harness) startOnce() (*child, error) {
	c, err := h.spawn()
	if err != nil {
		return nil, err
	}
	if err := c.awaitServing(startTimeout); err != nil {
		c.kill()
		return nil, fmt.Errorf("%w; log:\n%s", err, tail(c.logPath, 30))
	}
	return c, nil
}

// spawn execs the binary on the harness's store with fresh ports and
// returns at once: a test that kills a start part way does not wait for
// SERVING.
func (h *harness) spawn() (*child, error) {
	h.starts++
	grpcAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(h.dir, fmt.Sprintf("server-%03d.log", h.starts))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	args := append([]string{"serve"}, h.storeArgs...)
	cmd := exec.Command(childBin, append(args, "--key-file", h.keyFile,
		"--grpc-addr", grpcAddr, "--http-addr", httpAddr, "--policy", h.policyFile)...)
	var metricsAddr string
	if h.metrics {
		if metricsAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		cmd.Args = append(cmd.Args, "--metrics-addr", metricsAddr)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	dieWithParent(cmd)
	// The CHILDCASE_* twins of the flags must not reach the child.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CHILDCASE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, h.env...)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("exec %s: %w", childBin, err)
	}
	c := &child{cmd: cmd, grpcAddr: grpcAddr, metricsAddr: metricsAddr, logPath: logPath, exited: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

// freeAddr returns a localhost address with a port free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// awaitServing polls the gRPC health check until it answers SERVING.
func (c *child) awaitServing(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-c.exited:
			return fmt.Errorf("the server exited while starting: %v", c.waitErr)
		default:
		}
		status, err := c.health()
		if err == nil && status == healthpb.HealthCheckResponse_SERVING {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not SERVING %s after %s (last: %v %v)", c.grpcAddr, timeout, status, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// health asks the health service once, on a connection of its own (a
// connection refused before the server listens would otherwise back off
// for a second).
func (c *child) health() (healthpb.HealthCheckResponse_ServingStatus, error) {
	// Nothing listens yet: no need to start gRPC.
	probe, err := net.DialTimeout("tcp", c.grpcAddr, 500*time.Millisecond)
	if err != nil {
		return 0, err
	}
	probe.Close()
	conn, err := grpc.NewClient(c.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return resp.GetStatus(), err
}

// kill sends SIGKILL (TerminateProcess on Windows) and waits for the
// process to be gone. It reports whether the process had already exited.
func (c *child) kill() (exitedEarly bool) {
	select {
	case <-c.exited:
		return true
	default:
	}
	_ = c.cmd.Process.Kill()
	<-c.exited
	return false
}

// stop asks the server to shut down (SIGTERM) and waits for a clean exit.
func (c *child) stop() error {
	select {
	case <-c.exited:
		return fmt.Errorf("the server had exited already: %v", c.waitErr)
	default:
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		c.kill() // no SIGTERM on this platform
		return nil
	}
	select {
	case <-c.exited:
		return c.waitErr
	case <-time.After(30 * time.Second):
		c.kill()
		return errors.New("still running 30 s after SIGTERM; killed")
	}
}

var tokenPattern = regexp.MustCompile(`^cc_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$`)

// bootstrapToken reads the admin token a new database prints once: the
// line after "New database: created the admin user ...".
func bootstrapToken(logPath string) (string, error) {
	f, err := os.Open(logPath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	announced := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if announced {
			if tokenPattern.MatchString(line) {
				return line, nil
			}
			return "", fmt.Errorf("the line after the bootstrap announcement is not a token: %q", line)
		}
		announced = strings.HasPrefix(line, `New database: created the admin user "admin".`)
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("no bootstrap admin token in %s:\n%s", logPath, tail(logPath, 20))
}

// client is one gRPC connection to the running server (or, in the
// failover test, a connection routed to the instances) with its service
// stubs.
type client struct {
	conn    grpc.ClientConnInterface
	closer  func() error
	admin   pb.AdminServiceClient
	audit   pb.AuditServiceClient
	reports pb.ReportServiceClient
	cases   pb.CaseServiceClient
	proc    pb.CaseProcessServiceClient
}

// dial connects to the running server.
func (h *harness) dial() *client { return h.dialAddr(h.srv.grpcAddr) }

func (h *harness) dialAddr(addr string) *client {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		h.t.Fatalf("dial %s: %v", addr, err)
	}
	return newClient(conn, conn.Close)
}

// newClient is a client over conn; closer closes it.
func newClient(conn grpc.ClientConnInterface, closer func() error) *client {
	return &client{
		conn: conn, closer: closer, admin: pb.NewAdminServiceClient(conn), audit: pb.NewAuditServiceClient(conn),
		reports: pb.NewReportServiceClient(conn), cases: pb.NewCaseServiceClient(conn),
		proc: pb.NewCaseProcessServiceClient(conn),
	}
}

func (c *client) close() { _ = c.closer() }

// as returns ctx with the user's bearer token.
func (h *harness) as(ctx context.Context, user string) context.Context {
	tok := h.tokens[user]
	if tok == "" {
		panic("no token for user " + user)
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}
