// The board's list, the guide's simplest way: folded from the channel's events. The
// browser test edits the heading below while the page is open (a hot-module update).

import { useChannelState } from "@pulse-rs/client";
import { useState } from "react";

import { type Todo, type TodoListProps, useTodosChannel } from "./generated/todo";

export function TodoList({ channelId }: TodoListProps) {
  const todos = useTodosChannel(channelId);
  const items = useChannelState(todos, [] as Todo[], {
    added: (list, todo) => [...list, todo],
  });
  const [text, setText] = useState("");
  return (
    <section>
      <h2 className="heading">Todos</h2>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          todos.emit("add", text);
          setText("");
        }}
      >
        <input className="new" value={text} onChange={(event) => setText(event.target.value)} />
      </form>
      <ol className="items">
        {items.map((todo) => (
          <li key={todo.id}>{todo.text}</li>
        ))}
      </ol>
    </section>
  );
}
