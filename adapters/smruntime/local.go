package smruntime

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/manoctl/manoctl/reconcile/sm"
	"github.com/manoctl/manoctl/reconcile/smr"
)

// LocalConfig is the local-process runtime's configuration file:
//
//	# image in the descriptor -> how to run it
//	managers:
//	  manoctl/sonssmdemotask1:
//	    command: bin/task-ssm          # relative to this file
//	    args: [-service, demo, -name, task, -number, "1"]
//	    env: {GODEBUG: "madvdontneed=1"}
//	    dir: /var/lib/manoctl
//	stop_timeout: 5s
//	inherit_env: false
//	log_dir: /var/log/manoctl/managers
type LocalConfig struct {
	// Managers maps a descriptor image name to an executable.
	Managers map[string]LocalManager `yaml:"managers"`
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL;
	// default 5 s.
	StopTimeout Duration `yaml:"stop_timeout,omitempty"`
	// InheritEnv passes manoctl's whole environment to managers. By default
	// they get PATH, HOME, TMPDIR, LANG and TZ only, plus their own env and
	// the three protocol variables.
	InheritEnv bool `yaml:"inherit_env,omitempty"`
	// LogDir, when set, receives one <name>.log per manager instance with
	// its standard output and error.
	LogDir string `yaml:"log_dir,omitempty"`
}

// LocalManager is how one image runs.
type LocalManager struct {
	// Command is the executable: an absolute path, a path relative to the
	// configuration file, or a name looked up in PATH.
	Command string            `yaml:"command"`
	Args    []string          `yaml:"args,omitempty"`
	Env     map[string]string `yaml:"env,omitempty"`
	Dir     string            `yaml:"dir,omitempty"`
}

// Duration is a time.Duration written as "5s" in YAML.
type Duration time.Duration

// UnmarshalYAML reads "5s", "1m30s" or a number of seconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	if v, err := time.ParseDuration(s); err == nil {
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := n.Decode(&secs); err != nil {
		return fmt.Errorf("invalid duration %q", s)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

// MarshalYAML writes the duration as text.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// LoadLocalConfig reads a runtime configuration file; relative commands,
// directories and the log directory are resolved against the file's
// directory.
func LoadLocalConfig(path string) (LocalConfig, error) {
	var cfg LocalConfig
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("smruntime: %w", err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("smruntime: %s: %w", path, err)
	}
	base := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	var problems []string
	for image, m := range cfg.Managers {
		if m.Command == "" {
			problems = append(problems, fmt.Sprintf("image %s: no command", image))
			continue
		}
		if strings.ContainsRune(m.Command, filepath.Separator) {
			m.Command = rel(m.Command)
		}
		m.Dir = rel(m.Dir)
		cfg.Managers[image] = m
	}
	cfg.LogDir = rel(cfg.LogDir)
	if len(problems) > 0 {
		sort.Strings(problems)
		return cfg, fmt.Errorf("smruntime: %s: %s", path, strings.Join(problems, "; "))
	}
	return cfg, nil
}

// Local runs managers as local processes.
type Local struct {
	cfg LocalConfig
	log *slog.Logger

	mu    sync.Mutex
	procs map[*process]struct{}
}

var (
	_ smr.Runtime   = (*Local)(nil)
	_ smr.Onboarder = (*Local)(nil)
)

// NewLocal returns a local-process runtime.
func NewLocal(cfg LocalConfig, log *slog.Logger) *Local {
	if cfg.StopTimeout <= 0 {
		cfg.StopTimeout = Duration(5 * time.Second)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Local{cfg: cfg, log: log.With("runtime", "local"), procs: map[*process]struct{}{}}
}

// executable resolves the image's command.
func (l *Local) executable(image string) (LocalManager, string, error) {
	m, ok := l.cfg.Managers[image]
	if !ok {
		return m, "", fmt.Errorf("no executable configured for image %s", image)
	}
	path, err := exec.LookPath(m.Command)
	if err != nil {
		return m, "", fmt.Errorf("image %s: %w", image, err)
	}
	return m, path, nil
}

// Onboard checks that the image maps to an executable (the original pulls
// the image here).
func (l *Local) Onboard(_ context.Context, spec smr.ManagerSpec) error {
	_, _, err := l.executable(spec.Image)
	return err
}

// baseEnv is the environment every manager gets before its own.
func (l *Local) baseEnv() []string {
	if l.cfg.InheritEnv {
		var out []string
		for _, kv := range os.Environ() {
			k, _, _ := strings.Cut(kv, "=")
			switch k {
			case sm.EnvBrokerHost, sm.EnvBrokerExchange, sm.EnvSFUUID:
				continue
			}
			out = append(out, kv)
		}
		return out
	}
	var out []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// Start starts the manager's process.
func (l *Local) Start(ctx context.Context, spec smr.ManagerSpec) (smr.Instance, error) {
	m, path, err := l.executable(spec.Image)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, m.Args...)
	cmd.Dir = m.Dir
	env := l.baseEnv()
	for k, v := range m.Env {
		env = append(env, k+"="+v)
	}
	for k, v := range spec.Env {
		env = append(env, k+"="+v)
	}
	cmd.Env = env
	setProcessGroup(cmd)
	// Output pipes are drained by our goroutines; a manager's children
	// that keep them open must not hold Wait forever.
	cmd.WaitDelay = time.Second

	p := &process{name: spec.Name, image: spec.Image, local: l, done: make(chan struct{})}
	var sinks []io.Writer
	if l.cfg.LogDir != "" {
		// Private: a manager may well log its environment, broker_host
		// and its credentials included.
		if err := os.MkdirAll(l.cfg.LogDir, 0o700); err != nil {
			return nil, fmt.Errorf("smruntime: log dir: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(l.cfg.LogDir, spec.Name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, fmt.Errorf("smruntime: log file: %w", err)
		}
		p.logFile = f
		sinks = append(sinks, f)
	}
	logger := l.log.With("manager", spec.Name)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		p.closeLog()
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		p.closeLog()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		p.closeLog()
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	p.cmd = cmd
	p.pid = cmd.Process.Pid
	var pipes sync.WaitGroup
	for _, r := range []io.Reader{stdout, stderr} {
		pipes.Add(1)
		go func() {
			defer pipes.Done()
			copyLines(r, logger, sinks)
		}()
	}
	l.mu.Lock()
	l.procs[p] = struct{}{}
	l.mu.Unlock()
	logger.Info("manager process started", "pid", p.pid, "command", path, "image", spec.Image)
	go func() {
		pipes.Wait()
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		p.closeLog()
		l.mu.Lock()
		delete(l.procs, p)
		l.mu.Unlock()
		logger.Info("manager process exited", "pid", p.pid, "err", err)
		close(p.done)
	}()
	return p, nil
}

// copyLines logs a manager's output line by line and copies it to sinks.
func copyLines(r io.Reader, log *slog.Logger, sinks []io.Writer) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		log.Debug("manager output", "line", line)
		for _, w := range sinks {
			fmt.Fprintln(w, line)
		}
	}
}

// ProcessInfo describes a running manager process.
type ProcessInfo struct {
	Name  string
	Image string
	PID   int
}

// Running lists the manager processes that have not exited, by name.
func (l *Local) Running() []ProcessInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]ProcessInfo, 0, len(l.procs))
	for p := range l.procs {
		out = append(out, ProcessInfo{Name: p.name, Image: p.image, PID: p.pid})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// StopAll stops every manager process (shutdown, tests).
func (l *Local) StopAll(ctx context.Context) error {
	l.mu.Lock()
	ps := make([]*process, 0, len(l.procs))
	for p := range l.procs {
		ps = append(ps, p)
	}
	l.mu.Unlock()
	var errs []error
	for _, p := range ps {
		if err := p.Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// process is one running manager.
type process struct {
	name, image string
	local       *Local
	cmd         *exec.Cmd
	pid         int
	done        chan struct{}
	logFile     *os.File

	mu  sync.Mutex
	err error
}

func (p *process) Name() string          { return p.name }
func (p *process) Done() <-chan struct{} { return p.done }

// PID returns the process id.
func (p *process) PID() int { return p.pid }

func (p *process) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *process) closeLog() {
	if p.logFile != nil {
		p.logFile.Close()
	}
}

// Stop sends SIGTERM to the manager's process group, then SIGKILL after the
// stop timeout, and waits for the process to exit.
func (p *process) Stop(ctx context.Context) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	signalGroup(p.cmd, false)
	grace := time.NewTimer(time.Duration(p.local.cfg.StopTimeout))
	defer grace.Stop()
	select {
	case <-p.done:
		return nil
	case <-grace.C:
	case <-ctx.Done():
	}
	signalGroup(p.cmd, true)
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("manager %s (pid %d) did not exit: %w", p.name, p.pid, ctx.Err())
	case <-time.After(10 * time.Second):
		return fmt.Errorf("manager %s (pid %d) did not exit after SIGKILL", p.name, p.pid)
	}
}
