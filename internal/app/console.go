package app

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/childcase/childcase/internal/domain/identity"
	"github.com/childcase/childcase/internal/domain/model"
	"github.com/childcase/childcase/internal/domain/process"
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

func (a consoleAccounts) SignOut(ctx context.Context, tokenID, why string) error {
	return a.ids.EndSession(ctx, tokenID, why)
}

// consoleOfficers offers the console's assignment form the people a
// session's holder may name a case's responsible officer: the identity
// service's users, kept by the process domain's rule of AssignOfficer,
// for the person the session's token authenticates.
type consoleOfficers struct {
	ids    *identity.Service
	engine *process.Engine
}

// officersPage is how many users are read at once.
const officersPage = 1000

func (o consoleOfficers) AssignableOfficers(ctx context.Context, bearer, unit string) ([]model.User, error) {
	u, t, err := o.ids.Authenticate(ctx, bearer)
	if err != nil {
		return nil, err
	}
	p := identity.TokenPrincipal(u, t, "")
	var out []model.User
	for after := ""; ; {
		users, next, err := o.ids.ListUsers(ctx, after, officersPage)
		if err != nil {
			return nil, fmt.Errorf("officers of %s: %w", unit, err)
		}
		kept, err := o.engine.AssignableOfficers(p, unit, users)
		if err != nil {
			return nil, err
		}
		out = append(out, kept...)
		if next == "" {
			return out, nil
		}
		after = next
	}
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
