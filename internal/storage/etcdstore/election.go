package etcdstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// DefaultSessionTTL is the lease of a contender's session when Lead is
// given none: how long a leader that vanished without resigning (killed,
// cut off from etcd) keeps the leadership before another instance takes
// over. Short, since the deadline scheduler and webhook delivery stop
// meanwhile; long enough that a busy instance keeps its lease alive.
const DefaultSessionTTL = 5 * time.Second

// electionKey is the election's key prefix under the store's prefix P.
const electionKey = "\x00election"

// Lead takes part, as id, in the election of the instances sharing
// prefix, until ctx ends. Each time it wins it calls run with a context
// cancelled when the leadership is lost: when the session's lease could
// not be kept alive (Done: the keep-alives went unanswered for the TTL,
// and the lease may have expired on the cluster) or when the election
// shows another leader (the lease was revoked). It waits for run to
// return, resigns, and campaigns again. When ctx ends it resigns and
// revokes its lease, so that a clean stop hands over at once rather than
// after the TTL. ttl <= 0 takes DefaultSessionTTL (etcd rounds it up to
// whole seconds). Errors of etcd are logged and retried; Lead returns nil
// when ctx ends.
//
// Leadership can overlap for a moment: a leader cut off from etcd learns
// it lost only when its keep-alives have gone unanswered for the TTL,
// about when the cluster lets its lease expire. What run does must
// therefore be safe to run twice at once (the scheduler is: a timer's
// firing and its removal commit in one serialisable transaction).
func Lead(ctx context.Context, client *clientv3.Client, prefix, id string, ttl time.Duration, log *slog.Logger, run func(ctx context.Context)) error {
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	if log == nil {
		log = slog.Default()
	}
	retry := 100 * time.Millisecond
	for ctx.Err() == nil {
		won, err := leadOnce(ctx, client, prefix+electionKey, id, ttl, log, run)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			log.WarnContext(ctx, "leader election: campaigning again", "id", id, "err", err, "retry_in", retry.String())
		}
		if won || err == nil {
			retry = 100 * time.Millisecond
		}
		t := time.NewTimer(retry)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		retry = min(2*retry, ttl)
	}
	return nil
}

// Contenders returns the ids of the instances taking part in the election
// of prefix (Lead), the leader's first, then the others in the order they
// joined. An instance killed without resigning stays among them until its
// lease expires (DefaultSessionTTL).
func Contenders(ctx context.Context, client *clientv3.Client, prefix string) ([]string, error) {
	resp, err := client.Get(ctx, prefix+electionKey+"/", clientv3.WithPrefix(),
		clientv3.WithSort(clientv3.SortByCreateRevision, clientv3.SortAscend))
	if err != nil {
		return nil, fmt.Errorf("leader election: read the contenders: %w", err)
	}
	ids := make([]string, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		ids = append(ids, string(kv.Value))
	}
	return ids, nil
}

// leadOnce opens a session, campaigns, and, once elected, runs run until
// the leadership is lost or ctx ends; then resigns and closes the session.
// won says whether it was elected.
func leadOnce(ctx context.Context, client *clientv3.Client, key, id string, ttl time.Duration, log *slog.Logger,
	run func(ctx context.Context)) (won bool, err error) {
	secs := int((ttl + time.Second - 1) / time.Second)
	// The session's own context is the client's, not ctx: its Close must
	// still revoke the lease after ctx has ended.
	session, err := concurrency.NewSession(client, concurrency.WithTTL(secs))
	if err != nil {
		return false, fmt.Errorf("new session: %w", err)
	}
	defer func() {
		// Revoking the lease deletes this contender's key: the next one
		// is elected at once.
		if cerr := session.Close(); cerr != nil && !errors.Is(cerr, context.Canceled) {
			log.Debug("leader election: closing the session", "id", id, "err", cerr)
		}
	}()
	// The campaign ends with ctx, or when the session's lease is lost
	// before it was won.
	campaignCtx, stopCampaign := context.WithCancel(ctx)
	defer stopCampaign()
	go func() {
		select {
		case <-session.Done():
			stopCampaign()
		case <-campaignCtx.Done():
		}
	}()
	election := concurrency.NewElection(session, key)
	if err := election.Campaign(campaignCtx, id); err != nil {
		if ctx.Err() != nil {
			return false, nil
		}
		return false, fmt.Errorf("campaign: %w", err)
	}
	log.InfoContext(ctx, "leader election: this instance leads", "id", id)

	leadCtx, lose := context.WithCancel(ctx)
	defer lose()
	// The watch reads the election's key here and is over before Resign
	// changes the election (the election is not safe for concurrent use).
	watched := make(chan struct{})
	mine := election.Key()
	go func() {
		defer close(watched)
		watchLeadership(leadCtx, lose, session, election, mine, log, id)
	}()
	run(leadCtx)
	lose()
	<-watched
	// Resign even when the leadership was lost: a lease the cluster still
	// holds would otherwise keep this stale key first in line until it
	// expires. Bounded, since etcd may be what went away.
	resignCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ttl)
	defer cancel()
	if err := election.Resign(resignCtx); err != nil {
		log.Warn("leader election: resigning", "id", id, "err", err)
	}
	log.InfoContext(ctx, "leader election: this instance no longer leads", "id", id)
	return true, nil
}

// watchLeadership calls lose when the session ends or the election shows
// a leader other than this contender's key (its key was deleted: the lease
// was revoked or expired). A watch that ends for another reason also
// loses: leading without knowing is what must not happen.
func watchLeadership(ctx context.Context, lose context.CancelFunc, session *concurrency.Session, election *concurrency.Election,
	mine string, log *slog.Logger, id string) {
	defer lose()
	observed := election.Observe(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-session.Done():
			log.Warn("leader election: the session's lease is lost", "id", id)
			return
		case resp, ok := <-observed:
			if !ok {
				if ctx.Err() == nil {
					log.Warn("leader election: the watch of the election ended", "id", id)
				}
				return
			}
			if len(resp.Kvs) > 0 && string(resp.Kvs[0].Key) != mine {
				log.Warn("leader election: another instance leads", "id", id, "leader", string(resp.Kvs[0].Value))
				return
			}
		}
	}
}
