// A client component: the server renders it with a channel id (typed props), and it
// talks on the `counter` channel through the generated hook.

import { useEffect, useState } from "react";

import { type ButtonsProps, routes, useCounterChannel } from "./generated/starter";

export function Buttons({ channelId }: ButtonsProps) {
  const counter = useCounterChannel(channelId);
  const [count, setCount] = useState<number | null>(null);
  useEffect(() => {
    let heard = false;
    const off = counter.on("count", (now) => {
      heard = true;
      setCount(now); // now: number
    });
    // The first state: the count now, unless a change arrived first (it is newer).
    counter.request("current", null).then((now) => heard || setCount(now), () => {});
    return off;
  }, [counter]);
  // counter.emit("ad", 1) or counter.emit("add", "1") would not compile, nor would
  // routes.abot() (a page the app does not have).
  return (
    <p className="buttons">
      <button type="button" onClick={() => counter.emit("add", -1)}>−1</button>
      <span className="client-count"> {count ?? "…"} </span>
      <button type="button" onClick={() => counter.emit("add", 1)}>+1</button>{" "}
      <a href={routes.about()}>What is this?</a>
    </p>
  );
}
