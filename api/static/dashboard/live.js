// Live updates: the subscription stream (Server-Sent Events, GET /api/v3_0/streams/events, with
// the session cookie) delivers the account's new events; the page refreshes what they touch.
// Only when the stream fails (refused, or three errors without a message) does the page poll.

const POLL_MS = 15000;
const MAX_ERRORS = 3;
let source = null;
let timer = null;

export function startLive({ onEvent, onPoll, onMode }) {
  stopLive();
  if (!("EventSource" in window)) { poll(onPoll, onMode); return; }
  source = new EventSource("/api/v3_0/streams/events");
  let errors = 0;
  source.onopen = () => { errors = 0; onMode("live"); };
  source.onmessage = (message) => {
    errors = 0;
    try { onEvent(JSON.parse(message.data)); } catch (error) { /* a malformed event is skipped */ }
  };
  // "lagging": the server closes; EventSource reconnects with Last-Event-ID and catches up.
  source.onerror = () => {
    errors += 1;
    if (source.readyState === EventSource.CLOSED || errors >= MAX_ERRORS) {
      source.close();
      source = null;
      poll(onPoll, onMode);
    } else {
      onMode("reconnecting");
    }
  };
}

function poll(onPoll, onMode) {
  onMode("polling");
  clearInterval(timer);
  timer = setInterval(() => { if (!document.hidden) onPoll(); }, POLL_MS);
}

export function stopLive() {
  if (source) source.close();
  source = null;
  clearInterval(timer);
  timer = null;
}
