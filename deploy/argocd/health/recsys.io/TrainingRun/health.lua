-- Argo CD health of a TrainingRun: Healthy once it succeeded, Degraded when it failed.
local hs = {}
if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to submit the run"
  return hs
end
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Failed" and condition.status == "True" then
    hs.status = "Degraded"
    hs.message = condition.reason .. ": " .. (condition.message or "")
    return hs
  end
  if condition.type == "Succeeded" and condition.status == "True" then
    hs.status = "Healthy"
    hs.message = condition.message or "Succeeded"
    return hs
  end
end
hs.status = "Progressing"
hs.message = "Run state: " .. (obj.status.state or "unknown")
return hs
