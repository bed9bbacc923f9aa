// The chat and Q&A panel of a broadcast (_stream_chat.html), as the watch page and the go-live
// page both use it: wire it up, and apply the stream channel's chat and question events to it.

import { addChat, catchUp, removeChat, setSlowMode, wireChat } from "./chat.js";
import { wireTabs } from "./page.js";
import { addQuestion, onAnswered, onVotes, removeQuestion, wireQuestions } from "./qa.js";

export { catchUp };

/** Tabs, moderation buttons, the send and ask forms. */
export function wirePanel() {
  wireTabs();
  wireChat();
  wireQuestions();
}

/** Apply one event of the stream's channel; false when it is not a chat or Q&A event. */
export function onPanelEvent(data) {
  switch (data.kind) {
    case "chat":
      addChat(data);
      return true;
    case "question":
      addQuestion(data);
      return true;
    case "chat_deleted":
      removeChat(data.id);
      removeQuestion(data.id);
      return true;
    case "votes":
      onVotes(data.id, data.votes);
      return true;
    case "question_answered":
      onAnswered(data.id);
      return true;
    case "chat_settings":
      setSlowMode(data.slow_mode_seconds);
      return true;
    default:
      return false;
  }
}
