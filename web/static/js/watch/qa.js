// The watch page's Q&A: questions, most voted first, up-votes, and "answered" for moderators.
// Questions are chat messages of their own kind, so they share chat.js's parts and moderation.

import { fetchJson } from "../api.js";
import { addModeration, messageParts, moderate, wireSendForm } from "./chat.js";
import { $, api, button, config, failureText, showError, t } from "./page.js";

const questionList = $("question-list");

function sortQuestions() {
  const items = [...questionList.children];
  items.sort((a, b) => Number(b.dataset.votes) - Number(a.dataset.votes) || Number(a.dataset.id) - Number(b.dataset.id));
  questionList.append(...items);
}

function setVotes(item, votes) {
  item.dataset.votes = String(votes);
  item.querySelector(".question-votes").textContent = String(votes);
}

function markAnswered(item) {
  item.dataset.answered = "true";
  item.classList.add("answered");
  if (!item.querySelector(".badge")) {
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = t.answered;
    item.querySelector(".question-text").after(badge);
  }
  const action = item.querySelector(".answer-action");
  if (action) action.remove();
}

function enhanceQuestion(item) {
  const error = $("question-error");
  if (config.user != null && !item.querySelector(".vote-button")) {
    const vote = button(`▲ ${t.upvote}`, async () => {
      vote.disabled = true;
      try {
        const { votes } = await fetchJson(`${api}/questions/${item.dataset.id}/vote`, { method: "POST" });
        item.dataset.voted = "true";
        setVotes(item, votes);
        sortQuestions();
      } catch (failure) {
        vote.disabled = false;
        showError(error, failureText(failure));
      }
    }, "small vote-button");
    vote.disabled = item.dataset.voted === "true";
    item.prepend(vote);
  }
  if (config.moderator && item.dataset.answered !== "true" && !item.querySelector(".answer-action")) {
    const answer = button(t.markAnswered, async () => {
      if (await moderate(`${api}/questions/${item.dataset.id}/answered`, { method: "POST" }, error)) {
        markAnswered(item);
      }
    }, "small answer-action");
    item.append(answer);
  }
  addModeration(item, error, removeQuestion);
}

export function addQuestion(question) {
  if (questionList.querySelector(`[data-id="${question.id}"]`)) return;
  const item = document.createElement("li");
  item.className = "question-item";
  const [author, body] = messageParts(item, question);
  item.dataset.votes = String(question.votes || 0);
  item.dataset.voted = "false";
  item.dataset.answered = question.answered ? "true" : "false";
  const votes = document.createElement("span");
  votes.className = "question-votes";
  votes.textContent = item.dataset.votes;
  const text = document.createElement("span");
  text.className = "question-text";
  text.append(author, " ", body);
  item.append(votes, text);
  if (question.answered) markAnswered(item);
  enhanceQuestion(item);
  questionList.append(item);
  $("question-empty").hidden = true;
  sortQuestions();
}

export function removeQuestion(id) {
  for (const item of questionList.querySelectorAll(`.question-item[data-id="${id}"]`)) item.remove();
  $("question-empty").hidden = questionList.children.length > 0;
}

/** Someone voted: the new count, and the list re-sorted. */
export function onVotes(id, votes) {
  const item = questionList.querySelector(`[data-id="${id}"]`);
  if (!item) return;
  setVotes(item, votes);
  sortQuestions();
}

export function onAnswered(id) {
  const item = questionList.querySelector(`[data-id="${id}"]`);
  if (item) markAnswered(item);
}

/** The questions as the server drew them, made live: votes, moderation, the ask form. */
export function wireQuestions() {
  for (const item of questionList.children) enhanceQuestion(item);
  wireSendForm("question-form", "question-input", "question-error", `${api}/questions`, addQuestion);
}
