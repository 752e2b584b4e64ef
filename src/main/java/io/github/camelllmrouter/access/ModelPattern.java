package io.github.camelllmrouter.access;

import java.util.regex.Pattern;

/** A model name or a glob ({@code llama-*}, {@code gpt-4o?}) in the keys file. */
record ModelPattern(String text, Pattern pattern) {

    static ModelPattern of(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("a model name or glob must not be empty");
        }
        StringBuilder regex = new StringBuilder();
        for (char c : text.toCharArray()) {
            switch (c) {
                case '*' -> regex.append(".*");
                case '?' -> regex.append('.');
                default -> regex.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return new ModelPattern(text, Pattern.compile(regex.toString()));
    }

    boolean matches(String model) {
        return model != null && pattern.matcher(model).matches();
    }
}
