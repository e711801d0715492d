// The npm `eventsource` package, unchanged, reading a read route: prints `open` whenever the
// stream (re)opens and `event <json>` for each event, one line each, until COUNT events came.
// It reconnects by itself when the server ends the stream, sending Last-Event-ID. A non-200
// answer to a reconnect (a balancer with no gateway up yet) closes it for good, as the spec
// says: then, as an application would, this opens a new one from the last event.
//
// Usage: node sse-client.mjs URL COUNT
import { EventSource } from "eventsource";

const [url, count] = process.argv.slice(2);
let seen = 0;
let lastId = "";

function connect() {
  const resume = lastId
    ? {
        fetch: (input, init) =>
          fetch(input, { ...init, headers: { ...init.headers, "Last-Event-ID": lastId } }),
      }
    : undefined;
  const source = new EventSource(url, resume);
  source.onopen = () => console.log("open");
  source.onmessage = (event) => {
    lastId = event.lastEventId;
    console.log("event " + JSON.stringify({ id: event.lastEventId, data: JSON.parse(event.data) }));
    if (++seen >= Number(count)) {
      source.close();
      process.exit(0);
    }
  };
  source.onerror = () => {
    console.log("error");
    if (source.readyState === EventSource.CLOSED) {
      setTimeout(connect, 200);
    }
  };
}

connect();
