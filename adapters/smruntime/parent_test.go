package smruntime_test

import (
	"context"
	"fmt"
	"os"

	"github.com/manoctl/manoctl/adapters/smruntime"
)

// parentEnv makes the test binary a daemon stand-in (runManagerParent).
const parentEnv = "SMRUNTIME_TEST_MANAGER_PARENT"

// runManagerParent starts a manager through the local runtime, prints its
// pid and waits to be killed.
func runManagerParent() int {
	rt := smruntime.NewLocal(smruntime.LocalConfig{
		Managers: map[string]smruntime.LocalManager{"sleeper": {Command: "sleep", Args: []string{"300"}}},
		LogDir:   os.Getenv(parentEnv),
	}, nil)
	inst, err := rt.Start(context.Background(), spec("sleeper", "sleeper"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(inst.(interface{ PID() int }).PID())
	select {}
}
