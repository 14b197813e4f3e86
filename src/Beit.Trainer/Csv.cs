using System.Text;

namespace Beit.Trainer;

/// <summary>
/// CSV as RFC 4180 writes it, for every CSV the tool reads or writes: a field holding a comma, a quote, CR or LF is
/// quoted and its quotes doubled; records end with the platform's line ending.
/// </summary>
internal static class Csv
{
    /// <summary>One field, quoted when it needs to be.</summary>
    public static string Field(string value) =>
        value.AsSpan().IndexOfAny(",\"\r\n") < 0 ? value : "\"" + value.Replace("\"", "\"\"") + "\"";

    /// <summary>One record (without its line ending).</summary>
    public static string Record(IEnumerable<string> fields) => string.Join(',', fields.Select(Field));

    /// <summary>The records of a CSV text; a quoted field may hold commas, doubled quotes and line breaks.</summary>
    public static IEnumerable<(int Line, List<string> Fields)> Read(TextReader reader)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        bool quoted = false, any = false;
        int line = 1, start = 1;
        for (int c = reader.Read(); c >= 0; c = reader.Read())
        {
            char ch = (char)c;
            if (quoted)
            {
                if (ch == '"' && reader.Peek() == '"') { field.Append('"'); reader.Read(); }
                else if (ch == '"') quoted = false;
                else { if (ch == '\n') line++; field.Append(ch); }
                continue;
            }
            switch (ch)
            {
                case '"' when field.Length == 0:
                    quoted = any = true;
                    break;
                case ',':
                    fields.Add(field.ToString());
                    field.Clear();
                    any = true;
                    break;
                case '\r':
                    break;
                case '\n':
                    if (any || field.Length > 0) { fields.Add(field.ToString()); yield return (start, fields); }
                    fields = [];
                    field.Clear();
                    any = false;
                    start = ++line;
                    break;
                default:
                    field.Append(ch);
                    any = true;
                    break;
            }
        }
        if (any || field.Length > 0)
        {
            fields.Add(field.ToString());
            yield return (start, fields);
        }
    }
}
