package agents

import (
	"context"
	"encoding/json"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"
)

// openaiModel calls any OpenAI-compatible chat completions API (Ollama,
// vLLM, llama.cpp server, OpenAI) through the credential proxy.
type openaiModel struct {
	client openai.Client
	model  string
}

func newOpenAI(sock, model string) *openaiModel {
	if model == "" {
		model = "gpt-4o-mini"
	}
	return &openaiModel{model: model, client: openai.NewClient(
		option.WithBaseURL("http://berth-proxy/openai/"),
		option.WithHTTPClient(proxyClient(sock)),
		option.WithAPIKey("added-by-the-berth-proxy"),
		option.WithMaxRetries(3),
	)}
}

func (m *openaiModel) next(ctx context.Context, system string, hist []histMsg, tools []toolSpec, progress func(string)) (histMsg, usage, error) {
	params := openai.ChatCompletionNewParams{Model: m.model, Messages: []openai.ChatCompletionMessageParamUnion{openai.SystemMessage(system)}}
	for _, t := range tools {
		params.Tools = append(params.Tools, openai.ChatCompletionFunctionTool(shared.FunctionDefinitionParam{
			Name: t.Name, Description: openai.String(t.Description),
			Parameters: shared.FunctionParameters{"type": "object", "properties": t.Params, "required": t.Required},
		}))
	}
	send := sendImages(hist)
	for i, h := range hist {
		switch h.Role {
		case "user":
			if len(h.Images) == 0 {
				params.Messages = append(params.Messages, openai.UserMessage(h.Text))
				continue
			}
			parts := []openai.ChatCompletionContentPartUnionParam{openai.TextContentPart(h.Text)}
			for j, img := range h.Images {
				if !send[[2]int{i, j}] {
					continue // an older image: the text names its path
				}
				if data, ok := imageData(img); ok {
					parts = append(parts, openai.ImageContentPart(openai.ChatCompletionContentPartImageImageURLParam{URL: "data:" + img.Type + ";base64," + data}))
				}
			}
			params.Messages = append(params.Messages, openai.UserMessage(parts))
		case "assistant":
			a := openai.ChatCompletionAssistantMessageParam{}
			if h.Text != "" {
				a.Content.OfString = openai.String(h.Text)
			}
			for _, c := range h.Calls {
				a.ToolCalls = append(a.ToolCalls, openai.ChatCompletionMessageToolCallUnionParam{
					OfFunction: &openai.ChatCompletionMessageFunctionToolCallParam{ID: c.ID,
						Function: openai.ChatCompletionMessageFunctionToolCallFunctionParam{Name: c.Name, Arguments: string(c.Input)}}})
			}
			params.Messages = append(params.Messages, openai.ChatCompletionMessageParamUnion{OfAssistant: &a})
		case "tool":
			params.Messages = append(params.Messages, openai.ToolMessage(h.Text, h.CallID))
		}
	}
	// Streamed, so each chunk is progress: a long answer is not a hang.
	params.StreamOptions.IncludeUsage = openai.Bool(true)
	stream := m.client.Chat.Completions.NewStreaming(ctx, params)
	defer func() { _ = stream.Close() }() // the answer is read; a close error changes nothing
	var acc openai.ChatCompletionAccumulator
	finished := false
	for stream.Next() {
		chunk := stream.Current()
		acc.AddChunk(chunk)
		for _, c := range chunk.Choices {
			finished = finished || c.FinishReason != ""
		}
		progress("model chunk")
	}
	if err := stream.Err(); err != nil {
		return histMsg{}, usage{}, err
	}
	if !finished {
		return histMsg{}, usage{}, errCutShort
	}
	res := acc.ChatCompletion
	out := histMsg{Role: "assistant"}
	if len(res.Choices) > 0 {
		msg := res.Choices[0].Message
		out.Text = msg.Content
		for _, c := range msg.ToolCalls {
			in := json.RawMessage(c.Function.Arguments)
			if !json.Valid(in) {
				in = json.RawMessage(`{}`)
			}
			out.Calls = append(out.Calls, toolCall{ID: c.ID, Name: c.Function.Name, Input: in})
		}
	}
	return out, usage{Input: res.Usage.PromptTokens, Output: res.Usage.CompletionTokens}, nil
}
