// Package sprest connects manoctl's SLM to the REST neighbours of a full
// SONATA service platform, as the original SLM and FLM did (wire-protocol
// §4.1, §4.4 steps 11 and 13, §4.5 steps 2 and 9, §6.1, §10):
//
//   - the NSR and VNFR repositories (son-catalogue-repos):
//     POST/PUT <nsr base>ns-instances[/<id>], POST/PUT
//     <vnfr base>vnf-instances[/<id>], JSON;
//   - the monitoring manager: POST <monitoring>service/new with the
//     monitoring message, DELETE <monitoring>services/<serv_id>.
//
// The bases come from the original's environment variables
// url_nsr_repository, url_vnfr_repository and url_monitoring_server
// (FromEnv) or the daemon's equivalent flags (FromURLs).
//
// Unlike the original, which made these calls inside the workflow with a
// one-second timeout and failed the service when they failed, manoctl's
// local records are the source of truth and the REST writes follow them:
// Records decorates slm.Records (save locally, then queue) and Monitor
// implements slm.Monitor (queue). A Client owns the bounded queue and
// writes in the background with per-request timeouts and retries with
// bounded exponential backoff; every outcome is reported to
// Config.OnEvent and logged. A workflow therefore never waits for, or
// fails because of, a repository or monitoring manager that is down;
// once it is back, the latest records reach it.
//
// Wiring in the daemon:
//
//	cfg, err := sprest.FromEnv(os.LookupEnv) // or sprest.FromURLs(flags...)
//	if err != nil { ... }
//	if cfg.Enabled() {
//		cfg.Logger, cfg.OnEvent = logger, onEvent
//		rest := sprest.New(cfg)
//		defer rest.Close(shutdownCtx)
//		recs := rest.Records(manoCfg.Records)
//		for _, s := range servicesInStore { recs.Resync(s) } // the queue is in memory
//		manoCfg.Records = recs
//		manoCfg.Monitor = rest.Monitor()
//	}
package sprest
