// Package tui is manoctl's terminal UI (bubbletea v1, bubbles, lipgloss):
// a live view of the plugins, services, functions, operations and VIMs of a
// MANO platform and of its bus traffic, with plan/apply/destroy of a
// service and plugin lifecycle actions.
//
// The UI reads from a Backend: the embedded platform over the local state
// directory (Embedded) or a running daemon over RabbitMQ (Daemon). A
// backend delivers the records once (a reset) and then their changes, and
// hands bus traffic over without ever blocking the bus consumer; both go
// through a Feed, which coalesces record changes by key and bounds the
// traffic with a drop counter. The model drains the Feed once per frame
// (a tea.Tick), so the work per frame depends on what changed, not on how
// many events arrived.
//
//	records store / daemon events ──▶ Feed (coalesced by key) ──┐
//	bus "#" subscription ──non-blocking──▶ bounded channel ─────┤ frameMsg (tea.Tick)
//	                                                            ▼
//	            Model: sorted lists (incremental), traffic ring ──▶ View (visible rows only)
//
// Lists are virtualised: each kind keeps its rows in a map plus a slice
// sorted by a per-row key, updated by binary search as changes arrive, and
// View renders only the rows that fit the window. The traffic view keeps a
// bounded ring and counts what it evicted and what the tap dropped.
package tui
