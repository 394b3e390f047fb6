package pmrest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// DefaultAddr is where manoctl serves the interface by default: the
// original's port 8001, on loopback only.
const DefaultAddr = "127.0.0.1:8001"

// ServerConfig configures a Server.
type ServerConfig struct {
	// Addr is host:port to listen on; default DefaultAddr. Port 0 picks a
	// free port (Server.Addr tells which).
	Addr string
	// AllowNonLoopback permits an address that is not a loopback one
	// (such as the original's 0.0.0.0:8001). The interface has no
	// authentication and can stop every plugin, so it must be asked for.
	AllowNonLoopback bool
	Logger           *slog.Logger
}

// Server serves the REST interface on a listener of its own; the daemon
// starts one next to its plugin manager.
type Server struct {
	cfg  ServerConfig
	srv  *http.Server
	ln   net.Listener
	done chan error
	once sync.Once
}

// NewServer returns a server for m; Start listens.
func NewServer(m Manager, cfg ServerConfig) *Server {
	if cfg.Addr == "" {
		cfg.Addr = DefaultAddr
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		cfg: cfg,
		srv: &http.Server{
			Handler:           NewHandler(m, cfg.Logger),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
		},
	}
}

// CheckAddr reports whether addr may be served: a loopback host
// (127.0.0.0/8, ::1, localhost) unless allowNonLoopback.
func CheckAddr(addr string, allowNonLoopback bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("pmrest: address %q: %w", addr, err)
	}
	if allowNonLoopback || isLoopback(host) {
		return nil
	}
	return fmt.Errorf("pmrest: address %q is not a loopback address; the plugin manager REST interface has no authentication, serve it on another address only when asked to explicitly", addr)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Start listens on the configured address and serves in the background.
func (s *Server) Start(ctx context.Context) error {
	if err := CheckAddr(s.cfg.Addr, s.cfg.AllowNonLoopback); err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("pmrest: listen: %w", err)
	}
	s.ln = ln
	s.done = make(chan error, 1)
	go func() {
		err := s.srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.done <- err
	}()
	s.cfg.Logger.Info("pmrest: plugin manager REST interface", "url", "http://"+ln.Addr().String()+"/api/plugins")
	return nil
}

// Addr is the address the server listens on (after Start).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// URL is the interface's base URL (after Start), e.g.
// http://127.0.0.1:8001.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Close stops accepting requests and waits for those in progress until
// ctx ends.
func (s *Server) Close(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		if s.done == nil {
			return
		}
		err = s.srv.Shutdown(ctx)
		if serr := <-s.done; err == nil {
			err = serr
		}
	})
	return err
}
