// Package alerter judges the alert rules on the errorrate stage's counts
// and writes one FIRING and one RESOLVED alert per incident.
//
// Input: hosts.window-updates, keyed fleet (one key, so one pod sees the
// whole fleet; every errorrate partition writes there). Each WindowUpdate
// comes from one errorrate partition: its hosts' event and error counts
// per tick (one second of event time) up to that partition's watermark,
// its watermark status (time, idle, holding), and, for hosts with new
// errors, their open window's details (signatures, sample traces).
// Output: alerts, keyed fleet.
//
// State: alerter-table, key fleet (AlerterState): per host its current
// tumbling window, a history of closed windows as long as the rules look
// back (burn-rate windows), the ticks received but not yet judged and the
// latest details; the open incidents; the fleet watermark over the
// errorrate partitions; the last update applied per partition.
//
// Judging in event time. The stage's watermark is the minimum over the
// errorrate partitions' (an idle partition drops out, as in package
// watermark). Counts wait as pending ticks until the watermark passes
// them by the rules' judge_delay (1 s: lines of one logs.raw partition
// may be that far out of order, from shippers sending in batches); then
// every tick up to there is judged in order, every host as of the same
// point of event time, the fleet rule first. So a
// fleet-wide spike is fleet-wide before any host page can fire, a host's
// partition that runs ahead cannot page early, and a replay at any speed
// judges the same ticks with the same counts as live traffic: the same
// alerts. Counts that come after their tick was judged (out of order by
// more than the delay, within the grace) are added to the windows from
// the next tick on and counted (late_ticks).
//
// Rules (rules.go, `logstream rules`): threshold, host_vs_fleet,
// fleet_wide, burn_rate, host_silent and its fleet form. Evidence:
//   - a window with fewer than min_events events is not judged: a rule that
//     cannot be judged neither fires nor resolves;
//   - a host rule fires only with at least min_errors errors and when the
//     one-sided Wilson score lower bound of the host's error rate (at
//     confidence) clears the rule's level (the fire rate, or the peers'
//     median times the ratio and plus the delta): a rate that is high only
//     because the window is small does not page. A rule resolves once the
//     same bound is under its resolve level (no longer significantly
//     failing), so a new window's first few events, an error among them
//     by chance, do not restart the resolve_for wait;
//   - fleet_wide counts a host as over only on the same evidence.
//
// Silence, in event time: a host that had steady traffic (min_events in
// each of its last three windows) is silent when the fleet's watermark has
// moved on by host_silent.after past its last event. A replay that ends,
// or a pipeline whose input stops, moves no watermark (every partition
// idle) and pages nobody. When fleet_fraction of the steady hosts are
// silent at once, that is one fleet_silent alert ("no logs from N of M
// hosts"); a host's own silence waits fleet_wait for others first.
//
// Hysteresis: a condition holds for `for` (event time) before an incident
// fires, and its resolve condition for resolve_for before it resolves. An
// incident writes one FIRING and one RESOLVED record with the same dedup
// key.
//
// Guarantee: exactly-once effects. The state remembers the last input
// offset applied and the alerts each record wrote; a replayed record
// rewrites them through the exactlyonce.Fence, which suppresses those that
// landed. An update the errorrate stage wrote twice (a replay there) is
// recognised by its per-partition sequence number and applied once.
//
// Bad input: a record that is neither a WindowUpdate nor a HostWindow goes
// to logs.dlq with the decode error; a tombstone (null value) with the
// reason "null value (tombstone)" (deadletter.ErrTombstone), and nothing
// applied. A HostWindow is what the previous version of errorrate wrote
// here: records in flight at an upgrade set the host's current window's
// counts (no ticks are judged on them). A state
// of the previous version (AlerterState v1) is read by schema resolution:
// its hosts, history and open incidents carry on.
package alerter
