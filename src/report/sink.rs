//! Where events go. A sink turns [`Event`]s into output of its own kind (plain lines, JSON
//! lines, a live status view, a browser stream, ...). Adding one touches neither the engine nor
//! the other sinks: implement [`Sink`] and hand it to [`super::Reporter::with_sinks`] (or
//! [`super::Reporter::add_sink`]).

use super::event::Event;

/// One consumer of hot's event stream.
///
/// The reporter calls every sink, in order, from one thread (the writer thread in the event
/// loop): events arrive one at a time and in the order they happened, so a sink needs no
/// locking of its own for its state. A sink reads only events, never the project or a graph
/// (the `scope` event says what it needs of the graph). A sink that blocks holds up the other
/// sinks, never the loop; one that does slow work (network) hands events to a task of its own.
pub trait Sink: Send {
    /// Takes one event.
    fn event(&mut self, event: &Event);

    /// Time to draw: a sink that batches its output (the status view) writes what it holds.
    /// Called on the same thread as [`Sink::event`], in order with the events, whenever the
    /// loop asks ([`super::Reporter::frame`]); a sink that writes each event at once ignores it.
    fn frame(&mut self) {}

    /// hot is about to exit: flush, restore the terminal, close connections.
    fn finish(&mut self) {}

    /// Whether it may show a diagnostic's coloured rendering: where no sink does, the reporter
    /// does not render each diagnostic a second time (half of `hot check`'s rendering).
    fn colors_diagnostics(&self) -> bool {
        true
    }
}
