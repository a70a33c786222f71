package crashtest

// SIGKILLs while admins create users and tokens, revoke tokens, reset
// passwords and disable users. "Nothing lost" holds for them as for
// reports: an acknowledged write is there after the restart (a revoked
// token stays refused, a created one works), a write cut short by the kill
// and retried with its request_id is applied once, and each has its audit
// event in the file.

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/childcase/childcase/api/childcase/v1"
	"github.com/childcase/childcase/internal/domain/audit"
	"github.com/childcase/childcase/internal/domain/datastore"
	"github.com/childcase/childcase/internal/storage/boltstore"
)

// adminOp is one admin write, by its request_id (also its x-request-id,
// by which its audit event is found).
type adminOp struct {
	rid    string
	method string
	user   string // "users/..." it is about
	token  string // the token revoked, for RevokeToken
	send   func(ctx context.Context, a pb.AdminServiceClient) (name string, secret string, err error)
	state  outcome
	name   string // the answer's resource name, first acknowledged
}

// adminUser is a user an acknowledged CreateUser made.
type adminUser struct {
	name     string
	disabled bool // a DisableUser of it acknowledged
}

// adminToken is a token whose secret an acknowledged answer gave.
type adminToken struct {
	name, user, secret string
	revoked            bool // a RevokeToken of it acknowledged
}

// adminBook is what the admins were told.
type adminBook struct {
	mu     sync.Mutex
	ops    []*adminOp
	users  []*adminUser
	tokens []*adminToken
	doubt  int // writes in doubt at a kill, retried after the restart
}

// adminClient writes until ctx ends or a write is cut short (the kill):
// each client works on its own users, so no two writes race.
func (h *harness) adminClient(ctx context.Context, book *adminBook, w, round int, rng *rand.Rand) {
	cl := h.dial()
	defer cl.close()
	var mine []*adminUser
	var myTokens []*adminToken
	for i := 0; ctx.Err() == nil; i++ {
		op := &adminOp{rid: fmt.Sprintf("adm-r%d-w%d-%d", round, w, i)}
		var u *adminUser
		live := func() []*adminUser {
			var out []*adminUser
			for _, u := range mine {
				if !u.disabled {
					out = append(out, u)
				}
			}
			return out
		}()
		x := rng.IntN(100)
		switch {
		case x < 30 || len(live) == 0:
			id := fmt.Sprintf("u-r%d-w%d-%d", round, w, i)
			req := &pb.CreateUserRequest{UserId: id, RequestId: op.rid,
				User: &pb.User{DisplayName: "Cán bộ " + id, Role: pb.Role_ROLE_COMMUNE_WORKER, Unit: unitBD}}
			op.method, op.user = "CreateUser", "users/"+id
			op.send = func(ctx context.Context, a pb.AdminServiceClient) (string, string, error) {
				r, err := a.CreateUser(ctx, req)
				return r.GetUser().GetName(), r.GetToken().GetSecret() + "\x00" + r.GetToken().GetName(), err
			}
		case x < 55:
			u = live[rng.IntN(len(live))]
			req := &pb.CreateTokenRequest{Parent: u.name, RequestId: op.rid}
			op.method, op.user = "CreateToken", u.name
			op.send = func(ctx context.Context, a pb.AdminServiceClient) (string, string, error) {
				r, err := a.CreateToken(ctx, req)
				return r.GetName(), r.GetSecret(), err
			}
		case x < 75 && len(myTokens) > 0:
			tk := myTokens[rng.IntN(len(myTokens))]
			if tk.revoked || !slices.ContainsFunc(live, func(u *adminUser) bool { return u.name == tk.user }) {
				continue // revoked already, or its user disabled
			}
			req := &pb.RevokeTokenRequest{Name: tk.name, RequestId: op.rid}
			op.method, op.user, op.token = "RevokeToken", tk.user, tk.name
			op.send = func(ctx context.Context, a pb.AdminServiceClient) (string, string, error) {
				r, err := a.RevokeToken(ctx, req)
				return r.GetName(), "", err
			}
		case x < 95:
			u = live[rng.IntN(len(live))]
			req := &pb.ResetPasswordRequest{Name: u.name, RequestId: op.rid}
			op.method, op.user = "ResetPassword", u.name
			op.send = func(ctx context.Context, a pb.AdminServiceClient) (string, string, error) {
				_, err := a.ResetPassword(ctx, req)
				return u.name, "", err
			}
		default:
			u = live[rng.IntN(len(live))]
			req := &pb.DisableUserRequest{Name: u.name, RequestId: op.rid}
			op.method, op.user = "DisableUser", u.name
			op.send = func(ctx context.Context, a pb.AdminServiceClient) (string, string, error) {
				r, err := a.DisableUser(ctx, req)
				return r.GetName(), "", err
			}
		}
		book.mu.Lock()
		book.ops = append(book.ops, op)
		book.mu.Unlock()
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		name, secret, err := op.send(h.adminCtx(cctx, op.rid), cl.admin)
		cancel()
		if err != nil {
			if h.classify(err) != classInDoubt {
				h.problem("%s request_id %s: %v", op.method, op.rid, err)
			}
			return // in doubt: the kill; retried after the restart
		}
		nu, nt := h.settleAdmin(book, op, name, secret)
		if nu != nil {
			mine = append(mine, nu)
		}
		if nt != nil {
			myTokens = append(myTokens, nt)
		}
		time.Sleep(time.Duration(5+rng.IntN(20)) * time.Millisecond)
	}
}

// adminCtx is ctx with the admin's token and rid as the x-request-id.
func (h *harness) adminCtx(ctx context.Context, rid string) context.Context {
	return metadata.AppendToOutgoingContext(h.as(ctx, "admin"), "x-request-id", rid)
}

// settleAdmin books an acknowledged answer: the user or token it made
// (returned, once), the revocation or disabling it did.
func (h *harness) settleAdmin(book *adminBook, op *adminOp, name, secret string) (*adminUser, *adminToken) {
	book.mu.Lock()
	defer book.mu.Unlock()
	if op.state == acked {
		if name != op.name {
			h.problem("%s request_id %s answered %s when retried, first %s", op.method, op.rid, name, op.name)
		}
		return nil, nil
	}
	op.state, op.name = acked, name
	switch op.method {
	case "CreateUser":
		u := &adminUser{name: name}
		book.users = append(book.users, u)
		// A retry's answer has no secret (only its hash is stored): the
		// token is then unknown to the admin, and not checked.
		if sec, tok, _ := cutNUL(secret); sec != "" {
			t := &adminToken{name: tok, user: name, secret: sec}
			book.tokens = append(book.tokens, t)
			return u, t
		}
		return u, nil
	case "CreateToken":
		if secret == "" {
			return nil, nil
		}
		t := &adminToken{name: name, user: op.user, secret: secret}
		book.tokens = append(book.tokens, t)
		return nil, t
	case "RevokeToken":
		for _, t := range book.tokens {
			if t.name == op.token {
				t.revoked = true
			}
		}
	case "DisableUser":
		for _, u := range book.users {
			if u.name == op.user {
				u.disabled = true
			}
		}
	}
	return nil, nil
}

func cutNUL(s string) (before, after string, found bool) {
	for i := range len(s) {
		if s[i] == 0 {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// TestKillDuringAdminWrites SIGKILLs the server three times while four
// admins write (create users with their first token, create and revoke
// tokens, reset passwords, disable users), each on users of their own.
// After each restart every write cut short is retried with its request_id
// and must be answered; every user acknowledged exists, disabled if that
// was acknowledged; every token whose secret was given works unless its
// revocation or its user's disabling was acknowledged, then it is refused.
// At the end, with the server stopped, `check` passes and every
// acknowledged write has its audit event in the file.
func TestKillDuringAdminWrites(t *testing.T) {
	h := newOpsHarness(t)
	book := &adminBook{}
	for round := 1; round <= 3; round++ {
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := range 4 {
			rng := rand.New(rand.NewPCG(h.seed, uint64(round)<<8|uint64(w)))
			wg.Go(func() { h.adminClient(ctx, book, w, round, rng) })
		}
		time.Sleep(time.Duration(300+h.rng.IntN(600)) * time.Millisecond)
		h.killing.Store(true)
		h.srv.kill()
		cancel()
		wg.Wait()
		h.killing.Store(false)
		h.endOfStage(fmt.Sprintf("round %d, writes", round))
		h.srv = h.start()
		h.resolveAdmin(book)
		h.endOfStage(fmt.Sprintf("round %d, retries of the writes in doubt", round))
		h.checkAdminOnline(book)
		h.endOfStage(fmt.Sprintf("round %d, after the restart", round))
	}
	if err := h.srv.stop(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}
	h.srv = nil
	h.checkAdminFile(book)
	h.endOfStage("the file")
	counts := map[string]int{}
	for _, op := range book.ops {
		if op.state == acked {
			counts[op.method]++
		}
	}
	t.Logf("admin writes acknowledged: %v (%d of them in doubt at a kill, answered when retried); %d users, %d tokens with their secret",
		counts, book.doubt, len(book.users), len(book.tokens))
}

// resolveAdmin retries every write the kill left in doubt, with its
// request: each must be answered, applied once.
func (h *harness) resolveAdmin(book *adminBook) {
	book.mu.Lock()
	var doubt []*adminOp
	for _, op := range book.ops {
		if op.state == inDoubt {
			doubt = append(doubt, op)
		}
	}
	book.doubt += len(doubt)
	book.mu.Unlock()
	cl := h.dial()
	defer cl.close()
	for _, op := range doubt {
		var name, secret string
		err := h.call(func(ctx context.Context) (err error) {
			name, secret, err = op.send(h.adminCtx(ctx, op.rid), cl.admin)
			return err
		})
		if err != nil {
			h.problem("%s request_id %s, in doubt at the kill, retried: %v", op.method, op.rid, err)
			continue
		}
		h.settleAdmin(book, op, name, secret)
	}
}

// checkAdminOnline checks users and tokens through the restarted server.
func (h *harness) checkAdminOnline(book *adminBook) {
	cl := h.dial()
	defer cl.close()
	units := pb.NewPoliceUnitServiceClient(cl.conn)
	book.mu.Lock()
	users, tokens := cloneAll(book.users), cloneAll(book.tokens)
	book.mu.Unlock()
	disabled := map[string]bool{}
	for _, u := range users {
		disabled[u.name] = u.disabled
		var got *pb.User
		err := h.call(func(ctx context.Context) (err error) {
			got, err = cl.admin.GetUser(h.as(ctx, "admin"), &pb.GetUserRequest{Name: u.name})
			return err
		})
		switch {
		case err != nil:
			h.problem("acknowledged user %s: %v", u.name, err)
		case u.disabled && got.GetDisableTime() == nil:
			h.problem("user %s, its disabling acknowledged, is not disabled", u.name)
		}
	}
	// A refused token counts toward the client address's 10 failed
	// sign-ins: only the 3 last revoked or disabled are tried (those
	// nearest the kill), 9 over the test's three rounds.
	var try []adminToken
	dead := 0
	for _, tk := range slices.Backward(tokens) {
		if tk.revoked || disabled[tk.user] {
			if dead == 3 {
				continue
			}
			dead++
		}
		try = append(try, tk)
	}
	for _, tk := range try {
		err := h.call(func(ctx context.Context) error {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tk.secret)
			_, err := units.ListPoliceUnits(ctx, &pb.ListPoliceUnitsRequest{})
			return err
		})
		dead := tk.revoked || disabled[tk.user]
		switch {
		case dead && status.Code(err) != codes.Unauthenticated:
			h.problem("token %s (revoked %v, user disabled %v) answered %v; want UNAUTHENTICATED", tk.name, tk.revoked, disabled[tk.user], err)
		case !dead && err != nil:
			h.problem("token %s, acknowledged and neither revoked nor of a disabled user: %v", tk.name, err)
		}
	}
}

func cloneAll[T any](xs []*T) []T {
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = *x
	}
	return out
}

// checkAdminFile checks the stopped server's file: `check` passes, and
// each acknowledged write has its audit event, by its request id.
func (h *harness) checkAdminFile(book *adminBook) {
	t := h.t
	if code, out := runTool(t, "check", "--db", h.db); code != 0 {
		h.problem("childcase check: exit %d:\n%s", code, out)
	}
	st, err := boltstore.OpenReadOnly(h.db, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	audited := map[string]bool{}
	err = st.View(context.Background(), func(tx datastore.ReadTx) error {
		for e, err := range tx.AuditEvents(1) {
			if err != nil {
				return err
			}
			if e.Outcome == audit.OutcomeOK {
				audited[e.RequestID] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range book.ops {
		if op.state == acked && !audited[op.rid] {
			h.problem("%s request_id %s on %s, acknowledged, has no audit event in the file", op.method, op.rid, op.user)
		}
	}
}
