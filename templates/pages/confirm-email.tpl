Subject: {{t.email_subject}}

--- text
{{t.email_greeting}}

{{t.email_body}}

{{confirm_url}}

{{t.email_ignore}}

-- 
{{brand.name}}{{#brand.address}}
{{brand.address}}{{/brand.address}}
--- html
<!DOCTYPE html>
<html lang="{{lang}}">
<body style="margin:0;padding:24px;background:#f4f5f7;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f2328;">
<div style="max-width:520px;margin:0 auto;background:#ffffff;border-radius:8px;padding:24px;">
<p style="margin:0 0 16px;font-weight:600;font-size:18px;">{{brand.name}}</p>
<p style="margin:0 0 16px;">{{t.email_greeting}}</p>
<p style="margin:0 0 24px;">{{t.email_body}}</p>
<p style="margin:0 0 24px;"><a href="{{confirm_url}}" style="display:inline-block;padding:12px 24px;border-radius:6px;background:{{brand.colour}};color:{{brand.on_colour}};font-weight:600;text-decoration:none;">{{t.email_button}}</a></p>
<p style="margin:0 0 16px;font-size:14px;word-break:break-all;"><a href="{{confirm_url}}" style="color:{{brand.link_colour}};">{{confirm_url}}</a></p>
<p style="margin:0;font-size:14px;color:#4b5563;">{{t.email_ignore}}</p>
</div>
{{#brand.address}}<p style="max-width:520px;margin:16px auto 0;font-size:13px;color:#4b5563;">{{brand.address}}</p>{{/brand.address}}
</body>
</html>
