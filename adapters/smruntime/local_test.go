package smruntime_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/manoctl/manoctl/adapters/smruntime"
	"github.com/manoctl/manoctl/reconcile/sm"
	"github.com/manoctl/manoctl/reconcile/smr"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "managers.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadLocalConfig(t *testing.T) {
	path := writeConfig(t, `
managers:
  a/relative: {command: bin/mgr, args: [-x], dir: work}
  a/path: {command: sh}
  a/absolute: {command: /usr/bin/env}
stop_timeout: 2s
log_dir: logs
`)
	cfg, err := smruntime.LoadLocalConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)
	if m := cfg.Managers["a/relative"]; m.Command != filepath.Join(dir, "bin/mgr") || m.Dir != filepath.Join(dir, "work") || m.Args[0] != "-x" {
		t.Errorf("relative %+v", m)
	}
	if cfg.Managers["a/path"].Command != "sh" || cfg.Managers["a/absolute"].Command != "/usr/bin/env" {
		t.Errorf("%+v", cfg.Managers)
	}
	if time.Duration(cfg.StopTimeout) != 2*time.Second || cfg.LogDir != filepath.Join(dir, "logs") {
		t.Errorf("%+v", cfg)
	}
	for _, bad := range []string{
		"managers:\n  x: {args: [a]}\n",          // no command
		"managers:\n  x: {command: a, cmd: b}\n", // unknown field
		"stop_timeout: soon\n",
	} {
		if _, err := smruntime.LoadLocalConfig(writeConfig(t, bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func spec(image, name string) smr.ManagerSpec {
	return smr.ManagerSpec{Kind: sm.KindSSM, ID: "sonssmx1", Image: image, Name: name, SFUUID: "u1", Vhost: "ssm-u1",
		Env: map[string]string{sm.EnvBrokerHost: "amqp://h/ssm-u1", sm.EnvBrokerExchange: "x", sm.EnvSFUUID: "u1"}}
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || !errors.Is(err, syscall.ESRCH)
}

// The process gets the protocol environment; its output goes to the log
// directory; an exit is noticed; Stop reaches the whole process group and
// falls back to SIGKILL.
func TestLocalProcess(t *testing.T) {
	dir := t.TempDir()
	child := filepath.Join(dir, "child.pid")
	rt := smruntime.NewLocal(smruntime.LocalConfig{
		Managers: map[string]smruntime.LocalManager{
			"env":      {Command: "sh", Args: []string{"-c", `echo "$broker_host $broker_exchange $sf_uuid $EXTRA"; exit 4`}, Env: map[string]string{"EXTRA": "e"}},
			"stubborn": {Command: "sh", Args: []string{"-c", `trap "" TERM; sleep 300 & echo $! > ` + child + `; wait`}},
		},
		StopTimeout: smruntime.Duration(200 * time.Millisecond),
		LogDir:      dir,
	}, nil)
	ctx := context.Background()
	if err := rt.Onboard(ctx, spec("nope", "x")); err == nil || !strings.Contains(err.Error(), "no executable configured for image nope") {
		t.Errorf("onboard unknown image: %v", err)
	}
	inst, err := rt.Start(ctx, spec("env", "sonssmx1u1"))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-inst.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("exit not noticed")
	}
	if inst.Err() == nil || !strings.Contains(inst.Err().Error(), "exit status 4") {
		t.Errorf("exit error %v", inst.Err())
	}
	out, _ := os.ReadFile(filepath.Join(dir, "sonssmx1u1.log"))
	if strings.TrimSpace(string(out)) != "amqp://h/ssm-u1 x u1 e" {
		t.Errorf("environment seen by the manager: %q", out)
	}
	if err := inst.Stop(ctx); err != nil {
		t.Errorf("stopping an exited manager: %v", err)
	}

	inst, err = rt.Start(ctx, spec("stubborn", "stubborn"))
	if err != nil {
		t.Fatal(err)
	}
	pid := inst.(interface{ PID() int }).PID()
	var childPID int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(child); err == nil && len(b) > 0 && b[len(b)-1] == '\n' {
			childPID, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			break
		}
	}
	if childPID == 0 {
		t.Fatal("child never started")
	}
	if len(rt.Running()) != 1 {
		t.Errorf("running %v", rt.Running())
	}
	start := time.Now()
	if err := inst.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("stopped after %v: SIGTERM is ignored, so only SIGKILL after the stop timeout can end it", d)
	}
	for deadline := time.Now().Add(2 * time.Second); (alive(pid) || alive(childPID)) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if alive(pid) || alive(childPID) {
		t.Errorf("processes left: manager %v, its child %v", alive(pid), alive(childPID))
	}
	if len(rt.Running()) != 0 {
		t.Errorf("running %v", rt.Running())
	}
}

func TestExternalAndInProcess(t *testing.T) {
	ctx := context.Background()
	var announced smr.ManagerSpec
	ext := smruntime.NewExternal(nil)
	ext.Announce = func(s smr.ManagerSpec) { announced = s }
	inst, err := ext.Start(ctx, spec("any/image", "n"))
	if err != nil || announced.ID != "sonssmx1" {
		t.Fatalf("%v %+v", err, announced)
	}
	select {
	case <-inst.Done():
		t.Error("an external manager never exits as far as the registry knows")
	default:
	}
	if err := inst.Stop(ctx); err != nil {
		t.Error(err)
	}

	got := make(chan string, 1)
	rt := smruntime.NewInProcess(map[string]smruntime.ManagerFunc{
		"m": func(ctx context.Context, getenv func(string) string) error {
			got <- getenv(sm.EnvSFUUID)
			<-ctx.Done()
			return nil
		},
	}, nil)
	if err := rt.Onboard(ctx, spec("unknown", "x")); err == nil {
		t.Error("unknown image on-boarded")
	}
	inst, err = rt.Start(ctx, spec("m", "n"))
	if err != nil {
		t.Fatal(err)
	}
	if v := <-got; v != "u1" || len(rt.Running()) != 1 {
		t.Errorf("sf_uuid %q, running %v", v, rt.Running())
	}
	if err := inst.Stop(ctx); err != nil || len(rt.Running()) != 0 {
		t.Errorf("stop: %v, running %v", err, rt.Running())
	}
}

// The sample configuration shipped with the examples loads.
func TestSampleRuntimeConfig(t *testing.T) {
	cfg, err := smruntime.LoadLocalConfig("examples/runtime.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Managers) != 6 || !strings.HasSuffix(cfg.Managers["manoctl/sonssmdemotask1"].Command, "examples/bin/task-ssm") {
		t.Errorf("%+v", cfg)
	}
}
