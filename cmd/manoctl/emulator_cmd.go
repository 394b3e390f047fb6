package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/manoctl/manoctl/adapters/embedded"
)

func init() {
	commandRegistry = append(commandRegistry, func(f *factory) *cobra.Command { return newCmdEmulator(f) })
}

func newCmdEmulator(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "emulator",
		Short: "Work with the infrastructure-adaptor emulator",
	}
	cmd.AddCommand(newCmdEmulatorLose(f))
	return cmd
}

// newCmdEmulatorLose makes the embedded infrastructure lose a function, as
// a VIM that crashed would: the records still list it, the next plan finds
// the drift and heals the service.
func newCmdEmulatorLose(f *factory) *cobra.Command {
	var st stateFlags
	var service, vnf string
	cmd := &cobra.Command{
		Use:   "lose [FUNCTION_ID] [--service NAME --vnf VNF_ID]",
		Short: "Make the embedded infrastructure lose a function (simulate drift)",
		Long: `Remove a function from the embedded infrastructure behind the MANO's back,
as a VIM that lost a VM would. The records still list it; 'manoctl plan'
finds the drift and plans a heal. Name the function by id, or by service
name and vnf_id (the first instance).`,
		Example: `  manoctl emulator lose --service demo-1 --vnf vnf_firewall`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 || (len(args) == 1) == (service != "") {
				return usageErrorf("name the function by FUNCTION_ID or by --service and --vnf")
			}
			if service != "" && vnf == "" {
				return usageErrorf("--service needs --vnf")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ds, err := loadDesired(cmd.Context(), f, st.manifest)
			if err != nil {
				return err
			}
			id := ""
			if len(args) == 1 {
				id = args[0]
			} else {
				store, err := openRecords(st.dir, true)
				if err != nil {
					return err
				}
				r := store.Snapshot().Reader()
				if s, _ := r.ServiceByName(nil, service); s != nil {
					for _, fid := range s.Functions {
						if fn, _ := r.FunctionByID(nil, fid); fn != nil && fn.VNFID == vnf {
							id = fn.ID
							break
						}
					}
				}
				store.Close()
				if id == "" {
					return &notFoundError{"function", service + "/" + vnf}
				}
			}
			emu, err := embedded.LoadInfra(st.dir, ds)
			if err != nil {
				return err
			}
			if !emu.LoseFunction(id) {
				return &notFoundError{"function", id}
			}
			out, err := emu.Export()
			if err != nil {
				return err
			}
			if err := embedded.WriteInfra(st.dir, out); err != nil {
				return err
			}
			fmt.Fprintf(f.io.ErrOut, "The infrastructure lost function %s.\n", id)
			return nil
		},
	}
	st.addState(cmd)
	st.addManifest(cmd)
	cmd.Flags().StringVar(&service, "service", "", "service name")
	cmd.Flags().StringVar(&vnf, "vnf", "", "vnf_id of the function")
	return cmd
}
