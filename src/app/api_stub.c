#include "api_int.h"
void
api_templates(struct api_ctx *x)
{
	api_fail(x, 501, NULL, "not yet");
}
void
api_template_create(struct api_ctx *x)
{
	api_fail(x, 501, NULL, "not yet");
}
void
api_template_get(struct api_ctx *x)
{
	api_fail(x, 501, NULL, "not yet");
}
void
api_template_render(struct api_ctx *x)
{
	api_fail(x, 501, NULL, "not yet");
}
void
api_template_lint(struct api_ctx *x)
{
	api_fail(x, 501, NULL, "not yet");
}
void
api_campaigns(struct api_ctx *x)
{
	api_fail(x, 501, NULL, "not yet");
}
void
api_campaign_create(struct api_ctx *x)
{
	api_fail(x, 501, NULL, "not yet");
}
void
api_campaign_get(struct api_ctx *x)
{
	api_fail(x, 501, NULL, "not yet");
}
void
api_campaign_move(struct api_ctx *x)
{
	api_fail(x, 501, NULL, "not yet");
}
void
api_campaign_plan(struct api_ctx *x)
{
	api_fail(x, 501, NULL, "not yet");
}
void
api_campaign_report(struct api_ctx *x)
{
	api_fail(x, 501, NULL, "not yet");
}
void
api_domains(struct api_ctx *x)
{
	api_fail(x, 501, NULL, "not yet");
}
void
api_domain_get(struct api_ctx *x)
{
	api_fail(x, 501, NULL, "not yet");
}
void
api_domain_set(struct api_ctx *x)
{
	api_fail(x, 501, NULL, "not yet");
}
void
api_domain_unset(struct api_ctx *x)
{
	api_fail(x, 501, NULL, "not yet");
}
void
api_webhooks(struct api_ctx *x)
{
	api_fail(x, 501, NULL, "not yet");
}
void
api_webhook_add(struct api_ctx *x)
{
	api_fail(x, 501, NULL, "not yet");
}
void
api_webhook_get(struct api_ctx *x)
{
	api_fail(x, 501, NULL, "not yet");
}
void
api_webhook_delete(struct api_ctx *x)
{
	api_fail(x, 501, NULL, "not yet");
}
