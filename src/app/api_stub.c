#include "api_int.h"
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
