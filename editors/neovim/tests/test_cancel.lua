local H = dofile(vim.fn.fnamemodify(debug.getinfo(1, "S").source:sub(2), ":h") .. "/helpers.lua")
H.run(function()
  local codelab = H.setup({
    { chunks = { { text = "I am thinking about" }, { stall = true } } },
  })
  codelab.send("think")
  H.wait_chat("I am thinking about")
  vim.cmd("CodelabCancel")
  H.wait_chat("— cancelled")
  H.eq(nil, codelab.state().turn, "the turn is over")
end)
