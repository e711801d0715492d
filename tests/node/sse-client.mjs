// The npm `eventsource` package, unchanged, reading a read route: prints `open` whenever the
// stream (re)opens and `event <json>` for each event, one line each, until COUNT events came.
// It reconnects by itself when the server ends the stream, sending Last-Event-ID.
//
// Usage: node sse-client.mjs URL COUNT
import { EventSource } from "eventsource";

const [url, count] = process.argv.slice(2);
let seen = 0;
const source = new EventSource(url);
source.onopen = () => console.log("open");
source.onmessage = (event) => {
  console.log("event " + JSON.stringify({ id: event.lastEventId, data: JSON.parse(event.data) }));
  if (++seen >= Number(count)) {
    source.close();
    process.exit(0);
  }
};
source.onerror = () => console.log("error");
