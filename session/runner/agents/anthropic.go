package agents

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
)

// anthropicModel calls the Messages API through the credential proxy.
type anthropicModel struct {
	client anthropic.Client
	model  string
}

func newAnthropic(sock, model string) *anthropicModel {
	if model == "" {
		model = "claude-sonnet-4-5"
	}
	return &anthropicModel{model: model, client: anthropic.NewClient(
		option.WithBaseURL("http://berth-proxy/anthropic/"),
		option.WithHTTPClient(proxyClient(sock)),
		option.WithAPIKey("added-by-the-berth-proxy"), // the proxy replaces it
		option.WithMaxRetries(3),                      // 429 and 529 back off and retry
	)}
}

func (m *anthropicModel) next(ctx context.Context, system string, hist []histMsg, tools []toolSpec, progress func(string)) (histMsg, usage, error) {
	params := anthropic.MessageNewParams{
		Model: anthropic.Model(m.model), MaxTokens: 4096,
		System: []anthropic.TextBlockParam{{Text: system}},
	}
	for _, t := range tools {
		tp := anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{Properties: t.Params, Required: t.Required}, t.Name)
		tp.OfTool.Description = anthropic.String(t.Description)
		params.Tools = append(params.Tools, tp)
	}
	send := sendImages(hist)
	for i := 0; i < len(hist); i++ {
		h := hist[i]
		switch h.Role {
		case "user":
			blocks := []anthropic.ContentBlockParamUnion{anthropic.NewTextBlock(h.Text)}
			for j, img := range h.Images {
				if !send[[2]int{i, j}] {
					continue // an older image: the text names its path
				}
				if data, ok := imageData(img); ok {
					blocks = append(blocks, anthropic.NewImageBlockBase64(img.Type, data))
				}
			}
			params.Messages = append(params.Messages, anthropic.NewUserMessage(blocks...))
		case "assistant":
			var blocks []anthropic.ContentBlockParamUnion
			if h.Text != "" {
				blocks = append(blocks, anthropic.NewTextBlock(h.Text))
			}
			for _, c := range h.Calls {
				var in any
				if err := json.Unmarshal(c.Input, &in); err != nil {
					in = nil // the model's own malformed call, replayed without input
				}
				blocks = append(blocks, anthropic.NewToolUseBlock(c.ID, in, c.Name))
			}
			params.Messages = append(params.Messages, anthropic.NewAssistantMessage(blocks...))
		case "tool":
			// All results of one step go back in one user message.
			var blocks []anthropic.ContentBlockParamUnion
			for ; i < len(hist) && hist[i].Role == "tool"; i++ {
				blocks = append(blocks, anthropic.NewToolResultBlock(hist[i].CallID, hist[i].Text, hist[i].IsError))
			}
			i--
			params.Messages = append(params.Messages, anthropic.NewUserMessage(blocks...))
		}
	}
	// Streamed, so each event is progress: a long answer is not a hang.
	stream := m.client.Messages.NewStreaming(ctx, params)
	defer func() { _ = stream.Close() }() // the answer is read; a close error changes nothing
	var res anthropic.Message
	stopped := false
	for stream.Next() {
		ev := stream.Current()
		if err := res.Accumulate(ev); err != nil {
			return histMsg{}, usage{}, fmt.Errorf("read the model's answer: %w", err)
		}
		stopped = stopped || ev.Type == "message_stop"
		progress("model " + ev.Type)
	}
	if err := stream.Err(); err != nil {
		return histMsg{}, usage{}, err
	}
	if !stopped {
		return histMsg{}, usage{}, errCutShort
	}
	out := histMsg{Role: "assistant"}
	for _, b := range res.Content {
		switch b.Type {
		case "text":
			if out.Text != "" {
				out.Text += "\n"
			}
			out.Text += b.Text
		case "tool_use":
			out.Calls = append(out.Calls, toolCall{ID: b.ID, Name: b.Name, Input: b.Input})
		}
	}
	return out, usage{Input: res.Usage.InputTokens, Output: res.Usage.OutputTokens}, nil
}
