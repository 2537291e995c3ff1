local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":h") .. "/helpers.lua")
H.run(function()
  local codelab = H.setup({
    { chunks = { { toolCall = { id = "q1", name = "ask_followup_question", arguments = { question = "Which colour?", suggestions = { "red", "blue" } } } } } },
    { match = "The user answered: blue", chunks = { { toolCall = { id = "q2", name = "attempt_completion", arguments = { result = "Painted it blue." } } } } },
  })
  local offered
  H.answer_select(function(items)
    offered = items
    return "blue"
  end)
  codelab.send("paint it")
  H.wait_chat("— end_turn: Painted it blue.")
  H.eq({ "red", "blue", "Other…" }, offered, "the suggestions were offered")
end)
