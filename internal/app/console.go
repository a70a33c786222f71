package app

import (
	"context"
	"errors"
	"net"

	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/transport/web"
)

// consoleAccounts signs people in to the console with the identity
// service's password sign-in: a session is a bearer token of the user
// that the console keeps in memory.
type consoleAccounts struct{ ids *identity.Service }

func (a consoleAccounts) SignIn(ctx context.Context, c web.Credentials) (web.Account, error) {
	s, err := a.ids.SignInWithPassword(ctx, identity.PasswordSignIn{UserID: c.UserID, Password: c.Password, TOTPCode: c.Code, Client: c.Client})
	switch {
	case errors.Is(err, identity.ErrSecondFactorNeeded):
		return web.Account{}, web.ErrCodeNeeded
	case errors.Is(err, identity.ErrSignInRefused):
		return web.Account{}, web.ErrRefused
	case err != nil:
		return web.Account{}, err
	}
	return web.Account{User: s.User, Bearer: s.Token.Secret, TokenID: s.Token.Token.ID, Expires: s.Token.Token.ExpireTime}, nil
}

// The console spends a refused check's work on an unchecked refusal
// before it has timed a checked one (web's spendAsACheck), and answers
// one while the database is full as a check is, only if its accounts
// can: the wiring's must.
var _ interface {
	RefuseUnchecked(context.Context, web.Credentials)
	Full() bool
} = consoleAccounts{}

// Full reports whether the database is full past its reserve: the
// console answers an unchecked refusal then as every check is answered.
func (a consoleAccounts) Full() bool { return a.ids.SignInsFull() }

// RefuseUnchecked spends a refused sign-in's work on nothing: the
// console's unchecked refusal before it has timed a checked one.
func (a consoleAccounts) RefuseUnchecked(ctx context.Context, c web.Credentials) {
	a.ids.SpendRefusedSignIn(ctx, identity.PasswordSignIn{UserID: c.UserID, Password: c.Password, TOTPCode: c.Code, Client: c.Client})
}

func (a consoleAccounts) SignOut(ctx context.Context, tokenID, why string) error {
	return a.ids.EndSession(ctx, tokenID, why)
}

// consoleURL is the address people open the console at: the host of
// --http-addr as configured ("localhost", a name, an address), with the
// port it listens on, and "localhost" for an address that listens on
// every interface.
func consoleURL(configured string, addr net.Addr, tls bool) string {
	scheme := "http"
	if tls {
		scheme = "https"
	}
	_, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return scheme + "://" + addr.String() + "/"
	}
	host, _, err := net.SplitHostPort(configured)
	if ip := net.ParseIP(host); err != nil || host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/"
}
