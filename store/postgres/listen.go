package postgres

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// The listener is one connection of its own, made with pgx and not taken
// from the pool, that LISTENs on the schema's channel and wakes the hub's
// watchers of each key it receives. When the connection drops it
// reconnects, backing off from reconnectMin to reconnectMax; meanwhile
// FeedLost is true and waiters poll. Both when the feed is lost and when
// it is back it wakes every watcher: at the loss, so that a waiter
// blocked with no deadline looks at FeedLost and starts polling; once
// back, for the commits the gap hid.
//
// A connection that goes quiet for idleCheck is pinged, so that a peer
// gone without a word (a network partition, a server killed hard) is
// noticed within idleCheck + pingTimeout rather than the kernel's TCP
// timeout.
const (
	reconnectMin = 50 * time.Millisecond
	reconnectMax = 5 * time.Second
	idleCheck    = 30 * time.Second
	pingTimeout  = 5 * time.Second
)

type listener struct {
	cfg     *pgx.ConnConfig
	channel string
	hub     *hub
	idle    atomic.Int64 // idleCheck, as a time.Duration; tests shorten it
	pause   atomic.Int64 // reconnectMin, as a time.Duration; tests lengthen it
	lost    atomic.Bool
	pid     atomic.Uint32 // the listening backend's process ID, for tests
	conns   atomic.Int64  // connections made, for tests
	cancel  context.CancelFunc
	done    chan struct{}
}

// listen connects and LISTENs on channel, and then serves notifications
// until stop is called. It fails if the first connection does.
func listen(ctx context.Context, cfg *pgx.ConnConfig, channel string, h *hub) (*listener, error) {
	l := &listener{cfg: cfg, channel: channel, hub: h, done: make(chan struct{})}
	l.idle.Store(int64(idleCheck))
	l.pause.Store(int64(reconnectMin))
	conn, err := l.connect(ctx)
	if err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	go l.run(lctx, conn)
	return l, nil
}

// connect makes a connection that listens on the channel.
func (l *listener) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, l.cfg)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{l.channel}.Sanitize()); err != nil {
		closeConn(conn)
		return nil, err
	}
	l.pid.Store(conn.PgConn().PID())
	l.conns.Add(1)
	return conn, nil
}

func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	conn.Close(ctx)
}

// run serves conn and each connection after it, until ctx ends.
func (l *listener) run(ctx context.Context, conn *pgx.Conn) {
	defer close(l.done)
	for {
		l.serve(ctx, conn)
		closeConn(conn)
		if ctx.Err() != nil {
			return
		}
		l.lost.Store(true)
		l.hub.notifyAll()
		if conn = l.reconnect(ctx); conn == nil {
			return
		}
		l.lost.Store(false)
		l.hub.notifyAll()
	}
}

// serve wakes the watchers of each notification conn receives, until
// conn fails or ctx ends.
func (l *listener) serve(ctx context.Context, conn *pgx.Conn) {
	for {
		wctx, cancel := context.WithTimeout(ctx, time.Duration(l.idle.Load()))
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			if n.Payload == wakeAll {
				l.hub.notifyAll()
			} else {
				l.hub.notify(n.Payload)
			}
		case ctx.Err() != nil:
			return
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			if !l.alive(ctx, conn) {
				return
			}
		default:
			return
		}
	}
}

// alive pings a quiet connection.
func (l *listener) alive(ctx context.Context, conn *pgx.Conn) bool {
	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	return conn.Ping(pctx) == nil
}

// reconnect connects again, backing off, until it succeeds or ctx ends;
// it returns nil then.
func (l *listener) reconnect(ctx context.Context) *pgx.Conn {
	delay := time.Duration(l.pause.Load())
	for {
		pause := delay/2 + rand.N(delay/2+1)
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return nil
		}
		if conn, err := l.connect(ctx); err == nil {
			return conn
		}
		delay = min(2*delay, reconnectMax)
	}
}

// stop ends the listener and waits for its goroutine.
func (l *listener) stop() {
	l.cancel()
	<-l.done
}

// feedLost reports whether the listener is without a connection.
func (l *listener) feedLost() bool { return l.lost.Load() }
