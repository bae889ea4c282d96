// A client component: the server renders it with a channel id (typed props), and it
// talks on the `counter` channel through the generated hook.

import { useEffect, useState } from "react";

import { type ButtonsProps, useCounterChannel } from "./generated/starter";

export function Buttons({ channelId }: ButtonsProps) {
  const counter = useCounterChannel(channelId);
  const [count, setCount] = useState<number | null>(null);
  useEffect(() => {
    const off = counter.on("count", setCount); // count: number
    // The first state: ask for the count now, then follow the broadcasts.
    counter.request("current", null).then(setCount, () => {});
    return off;
  }, [counter]);
  // counter.emit("ad", 1) or counter.emit("add", "1") would not compile.
  return (
    <p className="buttons">
      <button type="button" onClick={() => counter.emit("add", -1)}>−1</button>
      <span className="client-count"> {count ?? "…"} </span>
      <button type="button" onClick={() => counter.emit("add", 1)}>+1</button>
    </p>
  );
}
